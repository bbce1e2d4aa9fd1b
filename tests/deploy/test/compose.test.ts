import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import Ajv from 'ajv';
import draft07 from 'ajv/dist/refs/json-schema-draft-07.json';
import {
  configEnvNames,
  contribProblems,
  healthProblems,
  listenPorts,
  loadCollectorConfig,
} from './collector-config';
import {
  composeCheck,
  hostPort,
  interpolate,
  jaegerValidate,
  mapStrings,
  parseYaml,
  readText,
  readYaml,
  repoPath,
  sharedFile,
} from './repo';
import { defaultsToLoopback, dialVariables, listeners, loadServiceEnv } from './service-config';

type Service = Record<string, any>;

/** docker-compose.yml as compose sees it: merge keys resolved, variables interpolated from `env`. */
function loadCompose(env: Record<string, string> = {}): {
  services: Record<string, Service>;
  [k: string]: any;
} {
  return mapStrings(parseYaml(readText('docker-compose.yml')), (s) => interpolate(s, env));
}

const compose = loadCompose();
const services = compose.services;

/** Services built from the Dockerfile, with the app each one runs. */
const tracechat = Object.entries(services)
  .filter(([, s]) => s.build?.args?.SERVICE)
  .map(([name, s]) => [name, s.build.args.SERVICE as string] as const);

function environment(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry: string) => [entry.split('=')[0], entry.split('=').slice(1).join('=')]),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v ?? '')]));
}

function publishedTargets(service: Service): number[] {
  return (service.ports ?? []).map((p: string | { target: number }) =>
    typeof p === 'object' ? Number(p.target) : Number(String(p).split('/')[0]!.split(':').pop()),
  );
}

/** Host paths of bind mounts, and the container path each is mounted at. */
function bindMounts(service: Service): { host: string; container: string }[] {
  return (service.volumes ?? [])
    .map((v: string | { type: string; source: string; target: string }) => {
      if (typeof v === 'object')
        return v.type === 'bind' ? { host: v.source, container: v.target } : undefined;
      const [host, container] = v.split(':');
      return host!.startsWith('.') || host!.startsWith('/')
        ? { host: host!, container: container! }
        : undefined;
    })
    .filter(Boolean);
}

/** The repository file behind a path inside the container, through the service's bind mounts. */
function hostFile(service: Service, containerPath: string): string {
  for (const { host, container } of bindMounts(service)) {
    if (containerPath === container || containerPath.startsWith(`${container}/`)) {
      return repoPath(host, posix.relative(container, containerPath));
    }
  }
  throw new Error(`${containerPath} is not mounted from the repository`);
}

/** `--config X` and `--config=X` arguments of a collector or Jaeger command. */
function configArgs(command: string[]): string[] {
  return command.flatMap((arg, i) =>
    arg.startsWith('--config=')
      ? [arg.slice('--config='.length)]
      : arg === '--config'
        ? [command[i + 1]!]
        : [],
  );
}

/** Where a health check calls: the port and path of its URL or of the image's probe script. */
function healthTarget(service: Service): { port: number; path: string } {
  const test: string[] = service.healthcheck?.test ?? [];
  const probe = test.findIndex((t) => t.endsWith('/probe.js'));
  if (probe >= 0) return { port: Number(test[probe + 1]), path: test[probe + 2] ?? '/readyz' };
  const url = test.find((t) => /^https?:\/\//.test(t));
  if (!url) throw new Error(`health check ${JSON.stringify(test)} calls no URL`);
  const parsed = new URL(url);
  return { port: Number(parsed.port), path: parsed.pathname };
}

// Ports these images listen on by default; the collector, Jaeger and Tempo are read from their configs.
const IMAGE_PORTS: Record<string, number[]> = {
  postgres: [5432],
  redis: [6379],
  nats: [4222, 8222],
  prometheus: [9090],
  grafana: [3000],
};

function collectorConfigFiles(name: string): string[] {
  const service = services[name]!;
  return configArgs(service.command).map((c) => hostFile(service, c));
}

const CONTRIB_IMAGE = /^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/;

/**
 * Images that cannot run a health check, which services would have to wait on with
 * `service_started`: otelcol-contrib's image is distroless (its binary and CA certificates; no
 * shell, wget or curl) and the binary has no probe command. (Compose runs the collector on the
 * Jaeger image, which has wget.)
 */
const NO_HEALTHCHECK_IMAGES = [CONTRIB_IMAGE];

function cannotHealthcheck(service: Service): boolean {
  return NO_HEALTHCHECK_IMAGES.some((image) => image.test(service.image ?? ''));
}

/** Health checks that could not run in their image. */
function healthcheckProblems(all: Record<string, Service>): string[] {
  return Object.entries(all)
    .filter(([, s]) => cannotHealthcheck(s) && s.healthcheck?.test)
    .map(
      ([name, s]) => `${name}: ${s.image} has nothing to run ${JSON.stringify(s.healthcheck.test)}`,
    );
}

/** The condition a service must wait on `dep` with. */
function expectedCondition(dep: string): string {
  return cannotHealthcheck(services[dep]!) ? 'service_started' : 'service_healthy';
}

/** Every port a compose service listens on, from its code's config, its own config or its image. */
function servicePorts(name: string): Set<number> {
  const service = services[name];
  if (!service) throw new Error(`no compose service "${name}"`);
  const app = service.build?.args?.SERVICE;
  if (app) return new Set(listeners(loadServiceEnv(app), environment(service)).map((l) => l.port));
  if (name === 'jaeger' || name === 'otel-collector') {
    return listenPorts(loadCollectorConfig(collectorConfigFiles(name), environment(service)));
  }
  if (name === 'tempo') {
    const tempo = readYaml('deploy/observability/tempo.yaml');
    return new Set([
      Number(tempo.server.http_listen_port),
      hostPort(tempo.distributor.receivers.otlp.protocols.grpc.endpoint).port,
    ]);
  }
  if (IMAGE_PORTS[name]) return new Set(IMAGE_PORTS[name]);
  throw new Error(`no known ports for compose service "${name}"`);
}

describe('docker-compose.yml: the Compose Specification', () => {
  const schema = JSON.parse(readFileSync(sharedFile('compose-spec.json'), 'utf8'));
  const ajv = new Ajv({ strict: false, allErrors: true });
  // the schema names draft-07 by its https address; ajv knows it by the http one
  if (schema.$schema !== draft07.$id) ajv.addMetaSchema({ ...draft07, $id: schema.$schema });
  const validate = ajv.compile(schema);

  it('validates against the schema', () => {
    const ok = validate(compose);
    expect(ajv.errorsText(validate.errors, { separator: '\n' })).toBe('No errors');
    expect(ok).toBe(true);
  });

  it('rejects a misspelled depends_on condition (so the check above can fail)', () => {
    const broken = loadCompose();
    broken.services.logic.depends_on.postgres.condition = 'service_healty';
    expect(validate(broken)).toBe(false);
    expect(ajv.errorsText(validate.errors)).toMatch(/must be equal to one of the allowed values/);
  });

  it('builds every service in apps/ from the Dockerfile', () => {
    const apps = new Set(tracechat.map(([, app]) => app));
    const expected = readdirSync(repoPath('apps')).filter((a) =>
      existsSync(repoPath('apps', a, 'src', 'main.ts')),
    );
    expect([...apps].sort()).toEqual(expected.sort());
    for (const [, app] of tracechat) expect(existsSync(repoPath('apps', app))).toBe(true);
    for (const [name] of tracechat) expect(services[name]!.build.context).toBe('.');
  });
});

describe.each(tracechat)('docker compose service %s (apps/%s)', (name, app) => {
  const service = services[name]!;
  const env = environment(service);

  it('sets only variables its config.ts (or the telemetry package) reads', () => {
    const contract = loadServiceEnv(app);
    expect(Object.keys(env).filter((key) => !contract.reads(key))).toEqual([]);
  });

  it('listens on 0.0.0.0 (the admin API on loopback), publishes and probes ports it listens on', () => {
    const own = listeners(loadServiceEnv(app), env);
    expect(
      own
        .filter((l) => l.host !== (l.protocol === 'admin' ? '127.0.0.1' : '0.0.0.0'))
        .map((l) => `${l.env} binds ${l.host}`),
    ).toEqual([]);
    const ports = own.map((l) => l.port);
    expect(publishedTargets(service).filter((p) => !ports.includes(p))).toEqual([]);
    const health = healthTarget(service);
    expect(own.filter((l) => l.protocol === 'http').map((l) => l.port)).toContain(health.port);
    expect(['/healthz', '/readyz']).toContain(health.path);
  });

  it('advertises its own compose name and gRPC port', () => {
    const grpc = listeners(loadServiceEnv(app), env).filter((l) => l.protocol === 'grpc');
    for (const key of Object.keys(env).filter((k) => k.endsWith('_ADVERTISE_ADDRESS'))) {
      const advertised = hostPort(env[key]!);
      expect(`${key}=${advertised.host}`).toBe(`${key}=${name}`);
      expect(grpc.map((l) => l.port)).toContain(advertised.port);
    }
  });

  it('reaches every dependency by a service name and port that exist, once it is healthy (or started, if it cannot have a health check)', () => {
    const contract = loadServiceEnv(app);
    for (const variable of dialVariables(contract)) {
      if (!(variable in env)) {
        // unset is fine only where the default does not mean "this container"
        expect(`${variable} unset: ${defaultsToLoopback(contract, variable)}`).toBe(
          `${variable} unset: false`,
        );
        continue;
      }
      const { host, port } = hostPort(env[variable]!);
      expect(Object.keys(services)).toContain(host);
      expect([...servicePorts(host)]).toContain(port);
      expect(`${variable} → ${host}: ${service.depends_on?.[host]?.condition}`).toBe(
        `${variable} → ${host}: ${expectedCondition(host)}`,
      );
    }
  });
});

describe('docker-compose.yml: the rest of the stack', () => {
  it('every container restarts after a failure, and every one outside a profile has a health check it can run', () => {
    expect(healthcheckProblems(services)).toEqual([]);
    for (const [name, service] of Object.entries(services)) {
      expect(`${name}: restart ${service.restart}`).toBe(`${name}: restart unless-stopped`);
      if (!service.profiles)
        expect(`${name}: health check ${Boolean(service.healthcheck?.test)}`).toBe(
          `${name}: health check true`,
        );
    }
  });

  it('refuses a wget health check on the distroless contrib collector image (so the check above can fail)', () => {
    const broken = loadCompose();
    broken.services['otel-collector'].image = 'otel/opentelemetry-collector-contrib:0.140.0';
    expect(healthcheckProblems(broken.services)).toEqual([
      `otel-collector: otel/opentelemetry-collector-contrib:0.140.0 has nothing to run ${JSON.stringify(services['otel-collector']!.healthcheck.test)}`,
    ]);
  });

  it('the collector has a memory limit for memory_limiter to work from, above what it lets in', () => {
    const service = services['otel-collector']!;
    const limit: string = service.deploy?.resources?.limits?.memory ?? service.mem_limit;
    expect(limit).toMatch(/^\d+[KMG]$/);
    const bytes = Number(limit.slice(0, -1)) * 1024 ** ('KMG'.indexOf(limit.slice(-1)) + 1);
    const limiter = loadCollectorConfig(
      collectorConfigFiles('otel-collector'),
      environment(service),
    ).processors.memory_limiter;
    // a percentage is of the container's limit; a fixed limit_mib must fit under it
    const hard = limiter.limit_percentage
      ? (bytes * limiter.limit_percentage) / 100
      : limiter.limit_mib * 1024 ** 2;
    expect(hard).toBeGreaterThan(0);
    expect(hard).toBeLessThan(bytes);
    expect(bytes).toBeGreaterThanOrEqual(512 * 1024 ** 2);
  });

  it('waits only on dependencies that have a health check', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dep, spec] of Object.entries<any>(service.depends_on ?? {})) {
        expect(Object.keys(services)).toContain(dep);
        if (spec.condition === 'service_healthy') {
          expect(`${name} waits on ${dep}: ${Boolean(services[dep]!.healthcheck?.test)}`).toBe(
            `${name} waits on ${dep}: true`,
          );
        }
        // a service outside a profile cannot wait on one inside it
        if (!service.profiles)
          expect(`${name} → ${dep} profiles: ${services[dep]!.profiles}`).toBe(
            `${name} → ${dep} profiles: undefined`,
          );
      }
    }
  });

  it('health checks and published ports of the other services use ports they listen on', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) continue;
      const ports = [...servicePorts(name)];
      expect(publishedTargets(service).filter((p) => !ports.includes(p))).toEqual([]);
      if ((service.healthcheck?.test ?? []).some((t: string) => /^https?:\/\//.test(t))) {
        expect(`${name}: ${ports.includes(healthTarget(service).port)}`).toBe(`${name}: true`);
      }
    }
  });

  it('mounts only files and folders that exist in the repository', () => {
    const mounts = Object.values(services).flatMap(bindMounts);
    expect(mounts.length).toBeGreaterThan(0);
    expect(mounts.filter((m) => !existsSync(repoPath(m.host))).map((m) => m.host)).toEqual([]);
  });

  it('keeps data in named volumes: postgres, nats and each journal node', () => {
    const named = (service: Service) =>
      (service.volumes ?? [])
        .filter((v: unknown) => typeof v === 'string' && !/^[./]/.test(v))
        .map((v: string) => v.split(':')[0]);
    expect(named(services.postgres!)).toHaveLength(1);
    expect(named(services.nats!)).toHaveLength(1);
    const journals = tracechat
      .filter(([, app]) => app === 'journal')
      .map(([name]) => named(services[name]!)[0]);
    expect(journals.length).toBeGreaterThanOrEqual(2);
    expect(new Set(journals).size).toBe(journals.length);
    for (const volume of [...journals, ...named(services.postgres!), ...named(services.nats!)]) {
      expect(Object.keys(compose.volumes)).toContain(volume);
    }
  });

  it('gives Jaeger and the collector only variables their configs or the Go runtime read', () => {
    const runtime = new Set(['GOGC', 'GOMEMLIMIT']);
    for (const name of ['jaeger', 'otel-collector']) {
      const service = services[name]!;
      const mounted = bindMounts(service).flatMap(({ host }) => {
        const path = repoPath(host);
        return path.endsWith('.yaml') ? [path] : readdirSync(path).map((f) => join(path, f));
      });
      const read = configEnvNames(mounted);
      expect(
        Object.keys(environment(service)).filter((k) => !read.has(k) && !runtime.has(k)),
      ).toEqual([]);
    }
  });

  it('jaeger runs configs that pass jaeger validate, with healthcheckv2 only', async () => {
    const files = collectorConfigFiles('jaeger');
    const env = environment(services.jaeger!);
    expect(files.length).toBeGreaterThan(0);
    const result = await jaegerValidate(files, env);
    expect(result.output).not.toMatch(/error/i);
    expect(result.ok).toBe(true);
    expect(healthProblems(loadCollectorConfig(files, env), 'jaeger')).toEqual([]);
  }, 120_000);

  describe.each<Record<string, string>>([{}, { COLLECTOR_OVERLAY: 'collector-tempo.yaml' }])(
    'otel-collector (%j)',
    (vars) => {
      const service = loadCompose(vars).services['otel-collector']!;
      const files = configArgs(service.command).map((c) => hostFile(service, c));

      it('runs the Jaeger image on collector.yaml, health-jaeger.yaml, then the overlay', () => {
        expect(service.image).toBe(services.jaeger!.image);
        expect(files.slice(0, 2)).toEqual([
          repoPath('deploy/collector/collector.yaml'),
          repoPath('deploy/collector/health-jaeger.yaml'),
        ]);
        expect(files).toHaveLength(3);
        expect(healthTarget(service)).toEqual({ port: 13134, path: '/status' });
      });

      it('passes jaeger validate, with healthcheckv2 only', async () => {
        const result = await jaegerValidate(files, environment(service));
        expect(result.output).not.toMatch(/error/i);
        expect(result.ok).toBe(true);
        expect(healthProblems(loadCollectorConfig(files, environment(service)), 'jaeger')).toEqual(
          [],
        );
      }, 120_000);

      it('the rest of what it runs uses only components otelcol-contrib ships (Kubernetes runs it there)', () => {
        const swapped = files.map((f) => f.replace(/health-jaeger\.yaml$/, 'health-contrib.yaml'));
        expect(swapped).not.toEqual(files);
        expect(contribProblems(loadCollectorConfig(swapped, environment(service)))).toEqual([]);
      });
    },
  );

  it('refuses the Jaeger health overlay in the compose collector (so the contrib check can fail)', () => {
    const service = services['otel-collector']!;
    const files = collectorConfigFiles('otel-collector').map((f) =>
      f.replace(/health-contrib\.yaml$/, 'health-jaeger.yaml'),
    );
    expect(contribProblems(loadCollectorConfig(files, environment(service)))).toEqual([
      'extensions: healthcheckv2 is not a type otelcol-contrib ships',
      'contrib: extension healthcheckv2 is not in this binary (it has health_check)',
      'contrib: service.extensions enables no health_check',
    ]);
  });

  it('jaeger validate refuses an overlay naming an exporter that does not exist (so the check above can fail)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'overlay-'));
    try {
      const overlay = join(dir, 'overlay.yaml');
      await writeFile(
        overlay,
        readText('deploy/collector/collector-tempo.yaml').replace(
          '[otlp/jaeger, spanmetrics/kept, otlp/tempo]',
          '[otlp/jaeger, spanmetrics/kept, otlp/tempoo]',
        ),
      );
      const result = await jaegerValidate([
        repoPath('deploy/collector/collector.yaml'),
        repoPath('deploy/collector/health-jaeger.yaml'),
        overlay,
      ]);
      expect(result.ok).toBe(false);
      expect(result.output).toMatch(/otlp\/tempoo/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('the collector sends kept traces to a port Jaeger listens on, once Jaeger is healthy', () => {
    const collector = services['otel-collector']!;
    const config = loadCollectorConfig(
      collectorConfigFiles('otel-collector'),
      environment(collector),
    );
    const target = hostPort(config.exporters['otlp/jaeger'].endpoint);
    expect(target.host).toBe('jaeger');
    expect([...servicePorts('jaeger')]).toContain(target.port);
    expect(collector.depends_on.jaeger.condition).toBe('service_healthy');
  });

  it('the tempo profile: Tempo only with the profile, and the overlay sends to its OTLP port', () => {
    expect(services.tempo!.profiles).toEqual(['tempo']);
    const overlay = loadCollectorConfig(
      [
        repoPath('deploy/collector/collector.yaml'),
        repoPath('deploy/collector/collector-tempo.yaml'),
      ],
      environment(services['otel-collector']!),
    );
    const target = hostPort(overlay.exporters['otlp/tempo'].endpoint);
    expect(target.host).toBe('tempo');
    expect([...servicePorts('tempo')]).toContain(target.port);
    // the overlay replaces the list: everything collector.yaml sends kept traces to stays in it
    const base = loadCollectorConfig([repoPath('deploy/collector/collector.yaml')]);
    expect(overlay.service.pipelines['traces/sampled'].exporters).toEqual([
      ...base.service.pipelines['traces/sampled'].exporters,
      'otlp/tempo',
    ]);
  });

  it('Prometheus scrapes and Grafana queries services on ports they listen on', () => {
    const prometheus = readYaml('deploy/prometheus/prometheus.yml');
    const targets: string[] = prometheus.scrape_configs.flatMap((job: any) =>
      job.static_configs.flatMap((c: any) => c.targets),
    );
    const datasources = readdirSync(repoPath('deploy/grafana/provisioning/datasources')).flatMap(
      (f) =>
        readYaml(`deploy/grafana/provisioning/datasources/${f}`).datasources.map(
          (d: any) => d.url as string,
        ),
    );
    for (const address of [...targets, ...datasources]) {
      const { host, port } = hostPort(address);
      const name = host === 'localhost' ? 'prometheus' : host;
      expect(`${address}: ${[...servicePorts(name)].includes(port)}`).toBe(`${address}: true`);
    }
    for (const [container, file] of bindMounts(services.prometheus!).map(
      (m) => [m.container, m.host] as const,
    )) {
      expect(existsSync(repoPath(file))).toBe(true);
      expect(container.startsWith('/etc/prometheus/')).toBe(true);
    }
  });
});

/**
 * Ports compose may publish on the host: the gateways' WebSocket and MQTT ports, the UIs and OTLP.
 */
const PUBLISHED: Record<string, number[]> = {
  'gateway-1': [1884, 8080],
  'gateway-2': [1885, 8081],
  jaeger: [16686],
  grafana: [3000],
  prometheus: [9090],
  'otel-collector': [4317, 4318],
};

const DEV_SERVICE_SECRET_MIN = 32;

/** `service:port` for every published port of a project compose-go resolved. */
function published(project: any): string[] {
  return Object.entries<any>(project.services)
    .flatMap(([name, s]) =>
      (s.ports ?? []).map((p: any) => `${name}:${p.target} on ${p.host_ip ?? 'every address'}`),
    )
    .sort();
}

describe('docker-compose.yml as Docker Compose loads it (compose-go, tools/compose-check)', () => {
  const loaded = composeCheck(['-f', 'docker-compose.yml']);
  const project = async () => {
    const result = await loaded;
    if (!result.ok) throw new Error(result.error);
    return result.project;
  };

  it(
    'loads with every profile: interpolation, merges, networks, volumes, depends_on',
    async () => {
      const result = await loaded;
      expect(result.ok ? 'loaded' : result.error).toBe('loaded');
      expect(Object.keys((await project()).services).sort()).toEqual(Object.keys(services).sort());
    },
    10 * 60_000,
  );

  it(
    'loads with the Tempo overlay and profile too',
    async () => {
      const result = await composeCheck(['-f', 'docker-compose.yml', '--profile', 'tempo'], {
        COLLECTOR_OVERLAY: 'collector-tempo.yaml',
      });
      expect(result.ok ? 'loaded' : result.error).toBe('loaded');
      if (!result.ok) return;
      expect(result.project.services.tempo.profiles).toEqual(['tempo']);
      expect(result.project.services['otel-collector'].command).toContain(
        '--config=/etc/tracechat/collector-tempo.yaml',
      );
    },
    10 * 60_000,
  );

  it('every depends_on names a service of the project', async () => {
    const resolved = (await project()).services;
    const missing = Object.entries<any>(resolved).flatMap(([name, s]) =>
      Object.keys(s.depends_on ?? {})
        .filter((dep) => !(dep in resolved))
        .map((dep) => `${name} → ${dep}`),
    );
    expect(missing).toEqual([]);
  });

  it("publishes only the gateways' WebSocket and MQTT ports, the UIs and OTLP, on 127.0.0.1", async () => {
    const expected = Object.entries(PUBLISHED)
      .flatMap(([name, ports]) => ports.map((port) => `${name}:${port} on 127.0.0.1`))
      .sort();
    expect(published(await project())).toEqual(expected);
    for (const [name, s] of Object.entries<any>((await project()).services)) {
      expect(`${name} exposes ${JSON.stringify(s.expose ?? [])}`).toBe(`${name} exposes []`);
    }
  });

  it('publishes no gRPC port and no admin port of any service', async () => {
    const resolved = (await project()).services;
    const internal = tracechat.flatMap(([name, app]) =>
      listeners(loadServiceEnv(app), resolved[name].environment ?? {})
        .filter((l) => l.protocol !== 'http' && l.protocol !== 'mqtt')
        .map((l) => ({ name, ...l })),
    );
    // every gRPC server (two gateways' Push, logic, placement, two journals) and both admin APIs
    expect(internal.map((l) => `${l.name} ${l.env}`).sort()).toEqual([
      'gateway-1 ADMIN_PORT',
      'gateway-1 PUSH_GRPC_ADDRESS',
      'gateway-2 ADMIN_PORT',
      'gateway-2 PUSH_GRPC_ADDRESS',
      'journal-1 JOURNAL_GRPC_ADDRESS',
      'journal-2 JOURNAL_GRPC_ADDRESS',
      'logic LOGIC_GRPC_ADDRESS',
      'placement PLACEMENT_GRPC_ADDRESS',
    ]);
    const publishedBy = (name: string) =>
      (resolved[name].ports ?? []).map((p: any) => Number(p.target));
    expect(
      internal.filter((l) => publishedBy(l.name).includes(l.port)).map((l) => `${l.name} ${l.env}`),
    ).toEqual([]);
  });

  it('every container is on the internal network; only those with a published port also on another', async () => {
    const { networks, services: resolved } = await project();
    const internal = Object.keys(networks).filter((n) => networks[n].internal === true);
    expect(internal).toHaveLength(1);
    for (const [name, s] of Object.entries<any>(resolved)) {
      const joined = Object.keys(s.networks ?? {});
      expect(`${name} on ${internal[0]}: ${joined.includes(internal[0]!)}`).toBe(
        `${name} on ${internal[0]}: true`,
      );
      const outside = joined.filter((n) => n !== internal[0]).length > 0;
      expect(`${name} reachable from outside: ${outside}`).toBe(
        `${name} reachable from outside: ${name in PUBLISHED}`,
      );
    }
  });

  it('the services run as development: one shared SERVICE_SECRET of 32+ characters, and the collector keeps every trace', async () => {
    const resolved = (await project()).services;
    const secrets = new Set(
      tracechat.map(([name]) => String(resolved[name].environment?.SERVICE_SECRET ?? '')),
    );
    expect(secrets.size).toBe(1);
    const [secret] = [...secrets];
    expect(secret!.length).toBeGreaterThanOrEqual(DEV_SERVICE_SECRET_MIN);
    for (const [name] of tracechat) {
      expect(`${name}: ${resolved[name].environment?.ENVIRONMENT}`).toBe(`${name}: development`);
    }
    const collector = resolved['otel-collector'];
    const files = configArgs(collector.command).map((c) =>
      hostFile(services['otel-collector']!, c),
    );
    const policies = loadCollectorConfig(files, collector.environment).processors.tail_sampling
      .policies;
    const baseline = policies.find((p: any) => p.type === 'probabilistic');
    expect(Number(baseline.probabilistic.sampling_percentage)).toBe(100);
  });

  describe('refuses a broken copy (so the checks above can fail)', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'compose-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const refused = async (name: string, text: string) => {
      const file = join(dir, name);
      await writeFile(file, text);
      return composeCheck(['-f', file]);
    };
    const original = readText('docker-compose.yml');

    it.each([
      [
        'depends_on a service that does not exist',
        original.replace(
          '      placement:\n        condition: service_healthy\n      # placement can',
          '      placment:\n        condition: service_healthy\n      # placement can',
        ),
        /depends on undefined service "placment"/,
      ],
      [
        'an unclosed ${ in a variable',
        original.replace(
          '${COLLECTOR_OVERLAY:-collector-jaeger-only.yaml}',
          '${COLLECTOR_OVERLAY:-collector-jaeger-only.yaml',
        ),
        /invalid interpolation format/,
      ],
      [
        'a network that is not declared',
        original.replace('  networks: [backend]\n\nx-service', '  networks: [backnd]\n\nx-service'),
        /undefined network backnd/,
      ],
      [
        'a key the specification does not have',
        original.replace(
          '  stop_grace_period: 15s\n',
          '  stop_grace_period: 15s\n  stop_grace: 15s\n',
        ),
        /stop_grace/,
      ],
    ])(
      '%s',
      async (_what, text, error) => {
        expect(text).not.toBe(original);
        const result = await refused('docker-compose.yml', text);
        expect(result.ok ? 'loaded' : result.error).toMatch(error);
      },
      120_000,
    );
  });
});
