import { ConfigError } from '@tracechat/config';
import { loadConfig } from '../src';

describe('placement config', () => {
  it('has the documented defaults, and an empty variable counts as unset', () => {
    expect(loadConfig({ SHARD_COUNT: '' })).toEqual({
      grpcAddress: '127.0.0.1:50053',
      healthHost: '127.0.0.1',
      healthPort: 9154,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/tracechat',
      shardCount: 16,
      nodeLeaseMs: 10_000,
      logLevel: 'info',
    });
  });

  it('reports every malformed variable at once', () => {
    const load = () =>
      loadConfig({
        PLACEMENT_GRPC_ADDRESS: 'nowhere',
        SHARD_COUNT: '4097',
        NODE_LEASE_MS: 'soon',
        DATABASE_URL: 'mysql://db',
      });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(
      /PLACEMENT_GRPC_ADDRESS[\s\S]*DATABASE_URL[\s\S]*SHARD_COUNT[\s\S]*NODE_LEASE_MS/,
    );
  });

  it('accepts the shard count range 1..4096', () => {
    expect(loadConfig({ SHARD_COUNT: '1' }).shardCount).toBe(1);
    expect(loadConfig({ SHARD_COUNT: '4096' }).shardCount).toBe(4096);
    expect(() => loadConfig({ SHARD_COUNT: '0' })).toThrow(/SHARD_COUNT/);
  });
});
