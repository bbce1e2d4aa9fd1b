import { ConfigError } from '@tracechat/config';
import { loadConfig } from '../src';

const SERVICE_SECRET = 'a-service-secret-of-at-least-32-chars';

describe('placement config', () => {
  it('has the documented defaults, and an empty variable counts as unset', () => {
    expect(loadConfig({ SHARD_COUNT: '', SERVICE_SECRET })).toEqual({
      grpcAddress: '127.0.0.1:50053',
      healthHost: '127.0.0.1',
      healthPort: 9154,
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/tracechat',
      serviceSecret: SERVICE_SECRET,
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
      /PLACEMENT_GRPC_ADDRESS[\s\S]*DATABASE_URL[\s\S]*SERVICE_SECRET is required[\s\S]*SHARD_COUNT[\s\S]*NODE_LEASE_MS/,
    );
  });

  it('stops on a short SERVICE_SECRET without showing it', () => {
    const load = () => loadConfig({ SERVICE_SECRET: 'short-secret' });
    expect(load).toThrow(/SERVICE_SECRET must be at least 32 characters/);
    expect(load).not.toThrow(/short-secret/);
  });

  it('accepts the shard count range 1..4096', () => {
    expect(loadConfig({ SHARD_COUNT: '1', SERVICE_SECRET }).shardCount).toBe(1);
    expect(loadConfig({ SHARD_COUNT: '4096', SERVICE_SECRET }).shardCount).toBe(4096);
    expect(() => loadConfig({ SHARD_COUNT: '0', SERVICE_SECRET })).toThrow(/SHARD_COUNT/);
  });
});
