import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropDatabase } from '@tracechat/postgres';
import { ManagedProcess, PortInUse, freePort, testDatabaseBaseUrl } from '@tracechat/testkit';
import { readText, tryRun } from './repo';
import { listeners, loadServiceEnv, serviceApps } from './service-config';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
  /** Body of a `<<EOF` here-document, when the instruction has one. */
  readonly heredoc?: string;
  /** The stage it belongs to ('' before the first FROM). */
  readonly stage: string;
}

/** Instructions of a Dockerfile: comments dropped, continuation lines joined, heredocs kept. */
function parseDockerfile(text: string): Instruction[] {
  const lines = text.split('\n');
  const out: Instruction[] = [];
  let stage = '';
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (line.endsWith('\\')) line = `${line.slice(0, -1).trimEnd()} ${lines[++i]!.trim()}`;
    const [, keyword, args] = /^\s*(\w+)\s+(.*)$/.exec(line)!;
    let heredoc: string | undefined;
    const marker = /<<-?'?(\w+)'?/.exec(args!);
    if (marker) {
      const end = lines.indexOf(marker[1]!, i + 1);
      heredoc = lines.slice(i + 1, end).join('\n');
      i = end;
    }
    const instruction = { keyword: keyword!.toUpperCase(), args: args!.trim(), heredoc, stage };
    if (instruction.keyword === 'FROM')
      stage = / AS (\S+)$/i.exec(instruction.args)?.[1] ?? instruction.args;
    out.push({ ...instruction, stage: instruction.keyword === 'FROM' ? stage : instruction.stage });
  }
  return out;
}

const dockerfile = parseDockerfile(readText('Dockerfile'));
const inStage = (stage: string) => dockerfile.filter((i) => i.stage === stage);
const globalArg = (name: string) =>
  new RegExp(`^${name}=(.*)$`).exec(
    dockerfile.find((i) => i.stage === '' && i.args.startsWith(`${name}=`))?.args ?? '',
  )?.[1];
const froms = dockerfile.filter((i) => i.keyword === 'FROM');
const buildRuns = dockerfile
  .filter((i) => i.keyword === 'RUN' && i.stage === 'build')
  .map((i) => i.args);
const deployLine = buildRuns.find((r) => r.includes('pnpm deploy'));
const buildLine = buildRuns.find((r) =>
  /pnpm (--filter \S+ )?(run )?build|pnpm --filter .* build/.test(r),
);

/** A RUN line of the recipe with the build argument and output folder of this run. */
function forService(line: string, service: string, out: string): string {
  return line
    .replace(/\$\{SERVICE\}|\$SERVICE\b/g, service)
    .replace(/(^|[\s=])\/out\b/g, `$1${out}`);
}

describe('Dockerfile', () => {
  it('builds on a pinned Node 22 bookworm-slim image and the repository pnpm', () => {
    const image = globalArg('NODE_IMAGE');
    expect(image).toMatch(/^node:22\.\d+\.\d+-bookworm-slim$/);
    const stages = froms.map((f) => f.stage);
    for (const from of froms) {
      const base = from.args.split(/\s+/)[0]!.replace('${NODE_IMAGE}', image!);
      expect(base === image || stages.includes(base) || base === 'service-${SERVICE}').toBe(true);
    }
    const pnpm = JSON.parse(readText('package.json')).packageManager.split('@')[1];
    expect(buildRuns).toContain(`npm install -g pnpm@${pnpm}`);
    expect(buildRuns.some((r) => /^pnpm install .*--frozen-lockfile/.test(r))).toBe(true);
    // SERVICE enters the build after the install, so every service's image shares those layers
    const build = inStage('build');
    const install = build.findIndex((i) => /^pnpm install/.test(i.args));
    expect(build.findIndex((i) => i.keyword === 'ARG' && i.args === 'SERVICE')).toBeGreaterThan(
      install,
    );
  });

  it('picks the final stage by SERVICE, whose default is a service', () => {
    expect(serviceApps()).toContain(globalArg('SERVICE'));
    expect(froms[froms.length - 1]!.args).toBe('service-${SERVICE}');
  });

  it.each(serviceApps())(
    'has a stage for %s with the ports it listens on and a probe of its health port',
    (app) => {
      const stage = inStage(`service-${app}`);
      expect(`${app}: ${stage.length > 0}`).toBe(`${app}: true`);
      const own = listeners(loadServiceEnv(app), {});
      const exposed = stage
        .filter((i) => i.keyword === 'EXPOSE')
        .flatMap((i) => i.args.split(/\s+/).map(Number));
      // the admin API listens on the container's loopback: nothing outside could reach it
      const reachable = own.filter((l) => l.protocol !== 'admin');
      expect(exposed.sort()).toEqual(reachable.map((l) => l.port).sort());
      const http = own.find((l) => l.protocol === 'http')!;
      const check = stage.find((i) => i.keyword === 'HEALTHCHECK')!.args;
      expect(check).toContain(`/opt/tracechat/probe.js "\${${http.env}:-${http.port}}" /readyz`);
    },
  );

  it('runs the deployed folder as a non-root user with the telemetry preload', () => {
    const runtime = inStage('runtime');
    expect(
      runtime.find((i) => i.keyword === 'COPY' && i.args.startsWith('--from=build'))?.args,
    ).toBe('--from=build /out ./');
    const users = dockerfile.filter((i) => i.keyword === 'USER');
    expect(users.length).toBeGreaterThan(0);
    for (const stage of new Set(users.map((u) => u.stage))) {
      const last = users.filter((u) => u.stage === stage).pop()!;
      expect(`${stage}: ${last.args}`).toBe(`${stage}: node`);
    }
    expect(runtime.find((i) => i.keyword === 'CMD')?.args).toBe(
      '["node", "--require", "@tracechat/telemetry/register", "dist/main.js"]',
    );
    expect(runtime.find((i) => i.heredoc !== undefined)?.args).toMatch(
      /\/opt\/tracechat\/probe\.js$/,
    );
  });

  it('gives the gateway image the web app it serves, and points WEB_ROOT at it', () => {
    const web = buildRuns.find((r) => r.includes('@tracechat/web'));
    expect(web).toBeDefined();
    // built only for the gateway, copied into the deployed folder the runtime stage copies to /app
    expect(web).toMatch(/"\$\{SERVICE\}" = gateway/);
    expect(web).toMatch(/pnpm --filter "@tracechat\/web\.\.\." build/);
    expect(web).toMatch(/cp -R apps\/web\/dist\/\. \/out\/web\//);
    expect(buildRuns.indexOf(web!)).toBeGreaterThan(buildRuns.indexOf(deployLine!));
    const env = inStage('service-gateway').find((i) => i.keyword === 'ENV')?.args;
    expect(env).toBe('WEB_ROOT=/app/web');
  });

  it('.dockerignore keeps host builds, dependencies and history out of the context', () => {
    const ignored = readText('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['**/node_modules', '**/dist', '.git']) expect(ignored).toContain(entry);
  });

  describe('the recipe, run natively for placement', () => {
    let dir: string;
    const database = new URL(testDatabaseBaseUrl());
    database.pathname = `/tracechat_deploy_${randomBytes(4).toString('hex')}`;
    const databaseUrl = database.toString();
    let service: ManagedProcess | undefined;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tracechat-deploy-'));
    });

    afterAll(async () => {
      await service?.stop();
      await dropDatabase(databaseUrl).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    });

    it('builds, deploys a production folder, starts it and answers /healthz and /readyz', async () => {
      // The workspace is already installed (`pnpm install --frozen-lockfile`, as in the image).
      expect(buildLine).toBeDefined();
      expect(deployLine).toMatch(/--prod/);
      const out = join(dir, 'out');
      for (const line of [buildLine!, deployLine!]) {
        const result = await tryRun('bash', ['-c', forService(line, 'placement', out)], {
          env: { CI: 'true' },
          timeout: 150_000,
        });
        expect(`${line}\n${result.ok ? 'ok' : result.output}`).toBe(`${line}\nok`);
      }
      for (const file of [
        'dist/main.js',
        'migrations',
        'node_modules/@tracechat/telemetry/register.js',
      ]) {
        expect(`${file}: ${existsSync(join(out, file))}`).toBe(`${file}: true`);
      }
      // production dependencies only: the workspace's compilers and test tools stay out
      expect(existsSync(join(out, 'node_modules', 'typescript'))).toBe(false);
      expect(existsSync(join(out, 'src'))).toBe(false);

      const probe = join(dir, 'probe.js');
      await writeFile(
        probe,
        dockerfile.find((i) => i.args.endsWith('/opt/tracechat/probe.js'))!.heredoc!,
      );
      const [command, ...args] = JSON.parse(
        inStage('runtime').find((i) => i.keyword === 'CMD')!.args,
      ) as string[];
      // the health port is chosen, then bound by the child: another port when it was taken meanwhile
      let healthPort = 0;
      for (let attempt = 1; ; attempt++) {
        healthPort = await freePort();
        service = new ManagedProcess({
          name: 'placement',
          command: command!,
          args,
          cwd: out,
          env: {
            PLACEMENT_GRPC_ADDRESS: '127.0.0.1:0',
            HEALTH_HOST: '127.0.0.1',
            HEALTH_PORT: String(healthPort),
            DATABASE_URL: databaseUrl,
            SERVICE_SECRET: randomBytes(32).toString('base64url'),
            SERVICE_INSTANCE_ID: 'placement-deploy-test',
            // telemetry starts (the preload must resolve in the deployed folder); nothing listens here
            OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
            OTEL_METRICS_EXPORTER: 'none',
            LOG_LEVEL: 'warn',
          },
          logFile: join(dir, 'placement.log'),
          readyUrl: `http://127.0.0.1:${healthPort}/readyz`,
        });
        try {
          await service.start(30_000);
          break;
        } catch (err) {
          if (!(err instanceof PortInUse) || attempt >= 3) throw err;
        }
      }
      for (const path of ['/healthz', '/readyz']) {
        const result = await tryRun('node', [probe, String(healthPort), path]);
        expect(`${path}: ${result.ok}`).toBe(`${path}: true`);
      }
      const closed = await freePort();
      expect((await tryRun('node', [probe, String(closed), '/healthz'])).ok).toBe(false);
      await service.stop();
      expect(service.running).toBe(false);
    }, 180_000);

    it('pnpm deploy without --legacy is refused in this workspace (why the recipe has it)', async () => {
      const line = forService(deployLine!, 'placement', join(dir, 'refused')).replace(
        ' --legacy',
        '',
      );
      const result = await tryRun('bash', ['-c', line], { env: { CI: 'true' } });
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/ERR_PNPM_DEPLOY_NONINJECTED_WORKSPACE/);
    }, 60_000);
  });
});
