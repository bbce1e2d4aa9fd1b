import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import type { ProtoGrpcType as ChatProto } from './generated/chat';
import { descriptor } from './generated/descriptor';
import type { ProtoGrpcType as JournalProto } from './generated/journal';
import type { ProtoGrpcType as PlacementProto } from './generated/placement';
import type { ProtoGrpcType as PushProto } from './generated/push';

/** Load options the generated types were made for: int64 as number, defaults filled in. */
export const LOADER_OPTIONS = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
} as const;

type Proto = ChatProto & JournalProto & PlacementProto & PushProto;

let loaded: Proto['tracechat']['v1'] | undefined;

/**
 * The tracechat.v1 package as grpc-js constructors. Loaded lazily through
 * `grpc.loadPackageDefinition`, so the gRPC instrumentation (started before) patches it.
 */
export function tracechatV1(): Proto['tracechat']['v1'] {
  if (!loaded) {
    const definition = fromJSON(descriptor as never, LOADER_OPTIONS);
    loaded = (grpc.loadPackageDefinition(definition) as unknown as Proto).tracechat.v1;
  }
  return loaded;
}
