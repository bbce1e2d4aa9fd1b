import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, posix } from 'node:path';
import {
  componentType,
  configEnvNames,
  contribProblems,
  healthProblems,
  listenPorts,
  loadCollectorConfig,
  pipelines,
} from './collector-config';
import {
  hostPort,
  jaegerValidate,
  kustomizeBinary,
  readText,
  readYaml,
  readYamlDocuments,
  repoPath,
  tryRun,
} from './repo';
import { defaultsToLoopback, dialVariables, listeners, loadServiceEnv } from './service-config';

const K8S = 'deploy/k8s';
const kustomization = readYaml(`${K8S}/kustomization.yaml`);
const manifests: any[] = (kustomization.resources as string[]).flatMap((file) =>
  readYamlDocuments(`${K8S}/${file}`).map((doc) => ({ ...doc, file })),
);

const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const workloads = manifests.filter((m) =>
  ['Deployment', 'StatefulSet', 'DaemonSet'].includes(m.kind),
);
const services = byKind('Service');

/** ConfigMaps: the manifests' and the ones kustomize generates from files (key = file name). */
const configMaps = new Map<string, { data: Record<string, string>; files: Record<string, string> }>(
  [
    ...byKind('ConfigMap').map(
      (m) => [m.metadata.name, { data: m.data ?? {}, files: {} }] as const,
    ),
    ...(kustomization.configMapGenerator ?? []).map(
      (g: { name: string; files: string[] }) =>
        [
          g.name,
          {
            data: {},
            files: Object.fromEntries(g.files.map((f) => [basename(f), repoPath(K8S, f)])),
          },
        ] as const,
    ),
  ],
);
const secrets = new Map<string, Record<string, string>>(
  byKind('Secret').map((s) => [s.metadata.name, { ...s.stringData, ...s.data }]),
);

// Postgres, Redis and NATS come from outside these manifests (README.md): their usual ports.
const EXTERNAL: Record<string, number> = { postgres: 5432, redis: 6379, nats: 4222 };

function podSpec(workload: any): any {
  return workload.spec.template.spec;
}

function containerPorts(workload: any): Map<string, number> {
  return new Map(
    podSpec(workload).containers.flatMap((c: any) =>
      (c.ports ?? []).map((p: any) => [p.name ?? String(p.containerPort), Number(p.containerPort)]),
    ),
  );
}

/** A pod name as the workload gives it: `<name>-0` for a StatefulSet, a generated suffix otherwise. */
function podName(workload: any): string {
  return workload.kind === 'StatefulSet'
    ? `${workload.metadata.name}-0`
    : `${workload.metadata.name}-7d9f8-x2k4p`;
}

const FIELD_VALUES = (workload: any): Record<string, string> => ({
  'metadata.name': podName(workload),
  'metadata.namespace': kustomization.namespace,
  'status.podIP': '10.42.0.17',
});

interface ResolvedEnv {
  /** Every variable the container gets, resolved as the kubelet would. */
  readonly values: Record<string, string>;
  /** The value as written, before $(VAR) expansion. */
  readonly raw: Record<string, any>;
  /** References to ConfigMaps and Secrets that do not exist. */
  readonly missing: string[];
}

function resolveEnv(workload: any, container: any): ResolvedEnv {
  const values: Record<string, string> = {};
  const raw: Record<string, any> = {};
  const missing: string[] = [];
  for (const from of container.envFrom ?? []) {
    const name = from.configMapRef?.name ?? from.secretRef?.name;
    const source = from.configMapRef ? configMaps.get(name)?.data : secrets.get(name);
    if (!source) missing.push(`envFrom ${name}`);
    for (const [k, v] of Object.entries(source ?? {})) values[k] = raw[k] = String(v);
  }
  for (const entry of container.env ?? []) {
    raw[entry.name] = entry.value ?? entry.valueFrom;
    let value: string | undefined;
    if (entry.value !== undefined) {
      value = String(entry.value).replace(
        /\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g,
        (m, v: string) => values[v] ?? m,
      );
    } else if (entry.valueFrom?.fieldRef) {
      value = FIELD_VALUES(workload)[entry.valueFrom.fieldRef.fieldPath];
    } else if (entry.valueFrom?.configMapKeyRef) {
      const { name, key } = entry.valueFrom.configMapKeyRef;
      value = configMaps.get(name)?.data[key];
      if (value === undefined) missing.push(`ConfigMap ${name} key ${key}`);
    } else if (entry.valueFrom?.secretKeyRef) {
      const { name, key } = entry.valueFrom.secretKeyRef;
      value = secrets.get(name)?.[key];
      if (value === undefined) missing.push(`Secret ${name} key ${key}`);
    }
    if (value === undefined) missing.push(`${entry.name}: no value`);
    else values[entry.name] = value;
  }
  return { values, raw, missing };
}

/** Variables named in another variable's value as $(NAME): helpers for the kubelet's expansion. */
function expansionHelpers(container: any): Set<string> {
  return new Set(
    (container.env ?? []).flatMap((e: any) =>
      e.value
        ? [...String(e.value).matchAll(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)].map((m) => m[1]!)
        : [],
    ),
  );
}

function selects(service: any, workload: any): boolean {
  const selector = service.spec.selector ?? {};
  const labels = workload.spec.template.metadata.labels ?? {};
  return (
    Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v)
  );
}

/** The container port behind a Service port, or undefined when its pods do not declare it. */
function targetOf(service: any, port: any): number | undefined {
  const pods = workloads.filter((w) => selects(service, w));
  const target = port.targetPort ?? port.port;
  for (const pod of pods) {
    const ports = containerPorts(pod);
    const number = typeof target === 'number' ? target : ports.get(target);
    if (number !== undefined && [...ports.values()].includes(number)) return number;
  }
  return undefined;
}

/** Files a container loads through `--config`, as paths in this repository. */
function mountedConfigFiles(workload: any, container: any): string[] {
  const args: string[] = container.args ?? [];
  const paths = args.flatMap((a, i) =>
    a.startsWith('--config=')
      ? [a.slice('--config='.length)]
      : a === '--config'
        ? [args[i + 1]!]
        : [],
  );
  return paths.map((path) => {
    const mount = (container.volumeMounts ?? []).find((m: any) =>
      path.startsWith(`${m.mountPath}/`),
    );
    if (!mount) throw new Error(`${path} is not under a volume mount`);
    const volume = podSpec(workload).volumes.find((v: any) => v.name === mount.name);
    const files = configMaps.get(volume?.configMap?.name)?.files ?? {};
    const file = files[posix.relative(mount.mountPath, path)];
    if (!file) throw new Error(`${path}: ConfigMap ${volume?.configMap?.name} has no such file`);
    return file;
  });
}

const tracechat = workloads.flatMap((w) =>
  podSpec(w)
    .containers.filter((c: any) => /^tracechat\//.test(c.image))
    .map(
      (c: any) =>
        [
          w.metadata.name as string,
          (c.image as string).split('/')[1]!.split(':')[0]!,
          w,
          c,
        ] as const,
    ),
);

describe('deploy/k8s manifests', () => {
  it('every manifest parses and has apiVersion, kind and metadata.name', () => {
    expect(manifests.length).toBeGreaterThan(10);
    for (const m of manifests) {
      expect(`${m.file}: ${typeof m.apiVersion}/${typeof m.kind}/${typeof m.metadata?.name}`).toBe(
        `${m.file}: string/string/string`,
      );
    }
  });

  it('kustomization.yaml lists every manifest, and every file it generates from exists', () => {
    const yamlFiles = readdirSync(repoPath(K8S)).filter(
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
    );
    expect([...kustomization.resources].sort()).toEqual(yamlFiles.sort());
    for (const { files } of configMaps.values()) {
      for (const path of Object.values(files)) expect(existsSync(path)).toBe(true);
    }
  });

  it('runs every service in apps/', () => {
    const apps = readdirSync(repoPath('apps')).filter((a) =>
      existsSync(repoPath('apps', a, 'src', 'main.ts')),
    );
    expect([...new Set(tracechat.map(([, app]) => app))].sort()).toEqual(apps.sort());
  });

  it('every Service selects pods that declare its target ports', () => {
    for (const service of services) {
      expect(`${service.metadata.name}: ${workloads.some((w) => selects(service, w))}`).toBe(
        `${service.metadata.name}: true`,
      );
      for (const port of service.spec.ports) {
        expect(
          `${service.metadata.name}:${port.port} → ${targetOf(service, port) !== undefined}`,
        ).toBe(`${service.metadata.name}:${port.port} → true`);
      }
    }
  });

  it('every ConfigMap, Secret and key referenced exists', () => {
    for (const workload of workloads) {
      for (const container of podSpec(workload).containers) {
        expect(resolveEnv(workload, container).missing).toEqual([]);
      }
      for (const volume of podSpec(workload).volumes ?? []) {
        if (volume.configMap) expect(configMaps.has(volume.configMap.name)).toBe(true);
      }
    }
  });

  it('Jaeger and the collectors get only variables their configs read, and declare ports they listen on', () => {
    for (const workload of workloads) {
      for (const container of podSpec(workload).containers.filter(
        (c: any) => !/^tracechat\//.test(c.image),
      )) {
        const files = mountedConfigFiles(workload, container);
        const read = configEnvNames(files);
        const { values } = resolveEnv(workload, container);
        expect(Object.keys(values).filter((k) => !read.has(k))).toEqual([]);
        const listening = listenPorts(loadCollectorConfig(files, values));
        const declared = [...containerPorts(workload).values()];
        expect(`${workload.metadata.name}: ${declared.filter((p) => !listening.has(p))}`).toBe(
          `${workload.metadata.name}: `,
        );
      }
    }
  });

  it(
    'kustomize renders the whole set',
    async () => {
      // the pinned kustomize, built once from its Go module (fails here when it cannot be built)
      const kustomize = await kustomizeBinary();
      const rendered = await tryRun(kustomize, ['build', repoPath(K8S)]);
      expect(rendered.output).toMatch(/kind: StatefulSet/);
      expect(rendered.ok).toBe(true);
    },
    15 * 60_000,
  );
});

describe.each(tracechat)('Kubernetes workload %s (apps/%s)', (_name, app, workload, container) => {
  const env = resolveEnv(workload, container);

  it('sets only variables its config.ts reads, plus helpers it expands into them', () => {
    const contract = loadServiceEnv(app);
    const helpers = expansionHelpers(container);
    expect(Object.keys(env.values).filter((k) => !contract.reads(k) && !helpers.has(k))).toEqual(
      [],
    );
  });

  it('declares exactly the ports its env makes it listen on, on 0.0.0.0 (the admin API on loopback), and probes its health port', () => {
    const own = listeners(loadServiceEnv(app), env.values);
    expect(
      own
        .filter((l) => l.host !== (l.protocol === 'admin' ? '127.0.0.1' : '0.0.0.0'))
        .map((l) => l.env),
    ).toEqual([]);
    expect([...containerPorts(workload).values()].sort()).toEqual(own.map((l) => l.port).sort());
    const http = own.filter((l) => l.protocol === 'http').map((l) => l.port);
    for (const [probe, path] of [
      ['readinessProbe', '/readyz'],
      ['livenessProbe', '/healthz'],
    ] as const) {
      const get = container[probe]?.httpGet;
      expect(get?.path).toBe(path);
      const port = typeof get.port === 'number' ? get.port : containerPorts(workload).get(get.port);
      expect(http).toContain(port);
    }
  });

  it('dials Services that exist on ports that reach a pod, or the external databases', () => {
    const contract = loadServiceEnv(app);
    for (const variable of dialVariables(contract)) {
      const value = env.values[variable];
      if (value === undefined) {
        expect(`${variable} unset: ${defaultsToLoopback(contract, variable)}`).toBe(
          `${variable} unset: false`,
        );
        continue;
      }
      const { host, port } = hostPort(value);
      if (host in EXTERNAL) {
        expect(port).toBe(EXTERNAL[host]);
        continue;
      }
      const service = services.find((s) => s.metadata.name === host);
      expect(`${variable} → ${host}: ${Boolean(service)}`).toBe(`${variable} → ${host}: true`);
      const servicePort = service.spec.ports.find((p: any) => p.port === port);
      expect(
        `${variable} → ${host}:${port} reaches a pod: ${servicePort !== undefined && targetOf(service, servicePort) !== undefined}`,
      ).toBe(`${variable} → ${host}:${port} reaches a pod: true`);
    }
  });

  it('gives each replica its own identity and an address that reaches that very pod', () => {
    const grpc = listeners(loadServiceEnv(app), env.values).filter((l) => l.protocol === 'grpc');
    const fromPodName = (variable: string) =>
      container.env.find((e: any) => e.name === variable)?.valueFrom?.fieldRef?.fieldPath ===
      'metadata.name';
    expect(fromPodName('SERVICE_INSTANCE_ID')).toBe(true);
    for (const variable of ['GATEWAY_ID', 'JOURNAL_NODE_ID']) {
      if (loadServiceEnv(app).names.has(variable))
        expect(`${variable}: ${fromPodName(variable)}`).toBe(`${variable}: true`);
    }
    for (const variable of Object.keys(env.values).filter((k) =>
      k.endsWith('_ADVERTISE_ADDRESS'),
    )) {
      const { host, port } = hostPort(env.values[variable]!);
      expect(grpc.map((l) => l.port)).toContain(port);
      if (workload.kind === 'StatefulSet') {
        // <pod>.<governing headless Service>: stable across restarts, one per pod
        const governing = services.find((s) => s.metadata.name === workload.spec.serviceName);
        expect(governing?.spec.clusterIP).toBe('None');
        expect(host).toBe(`${podName(workload)}.${workload.spec.serviceName}`);
        expect(workload.spec.volumeClaimTemplates?.length).toBeGreaterThan(0);
      } else {
        expect(`${variable} host: ${host}`).toBe(
          `${variable} host: ${FIELD_VALUES(workload)['status.podIP']}`,
        );
      }
    }
  });
});

describe('the two collector tiers', () => {
  const router = workloads.find((w) => w.metadata.name === 'otel-collector')!;
  const sampler = workloads.find((w) => w.metadata.name === 'otel-collector-sampler')!;
  const routerContainer = podSpec(router).containers[0];
  const samplerContainer = podSpec(sampler).containers[0];
  const samplerConfig = () =>
    loadCollectorConfig(
      mountedConfigFiles(sampler, samplerContainer),
      resolveEnv(sampler, samplerContainer).values,
    );

  /**
   * Tier 1 runs otelcol-contrib, whose loadbalancing exporter and health_check extension Jaeger's
   * build lacks, so `jaeger validate` cannot check it. This structural check stands in: components
   * are of types contrib ships and every pipeline uses defined ones (contribProblems), and traces
   * are routed by trace id over DNS (a port given as a string, as the contrib exporter requires)
   * to the headless Service of the sampler pods, on their OTLP port.
   */
  function routerProblems(config: any): string[] {
    const problems: string[] = contribProblems(config);
    const traces = pipelines(config, 'traces');
    if (traces.length === 0) problems.push('no traces pipeline');
    const samplerPorts = [...containerPorts(sampler).values()];
    const samplerOtlp = hostPort(samplerConfig().receivers.otlp.protocols.grpc.endpoint).port;
    for (const pipeline of traces) {
      for (const id of pipeline.exporters ?? []) {
        const exporter = config.exporters?.[id];
        if (componentType(id) !== 'loadbalancing') {
          problems.push(`traces go to ${id}, not through a loadbalancing exporter`);
          continue;
        }
        if (exporter?.routing_key !== 'traceID')
          problems.push(`${id}: routing_key is ${exporter?.routing_key}, not traceID`);
        const dns = exporter?.resolver?.dns;
        if (!dns) {
          problems.push(`${id}: no dns resolver`);
          continue;
        }
        if (typeof dns.port !== 'string')
          problems.push(`${id}: resolver.dns.port must be a string`);
        const headless = services.find((s) => s.metadata.name === dns.hostname.split('.')[0]);
        if (!headless) problems.push(`${id}: no Service ${dns.hostname}`);
        else if (headless.spec.clusterIP !== 'None')
          problems.push(`${id}: Service ${dns.hostname} is not headless`);
        else if (!selects(headless, sampler))
          problems.push(`${id}: Service ${dns.hostname} does not select the sampler pods`);
        if (Number(dns.port) !== samplerOtlp || !samplerPorts.includes(Number(dns.port))) {
          problems.push(`${id}: port ${dns.port} is not the samplers' OTLP port ${samplerOtlp}`);
        }
      }
    }
    return problems;
  }

  /** Readiness and liveness probes that miss the health_check extension's port or path. */
  function probeProblems(workload: any, container: any, config: any): string[] {
    const health = config.extensions?.health_check;
    if (!health) return ['no health_check extension'];
    const want = { port: hostPort(health.endpoint).port, path: health.path ?? '/' };
    return (['readinessProbe', 'livenessProbe'] as const).flatMap((probe) => {
      const get = container[probe]?.httpGet;
      const port =
        typeof get?.port === 'number' ? get.port : containerPorts(workload).get(get?.port);
      return port === want.port && get?.path === want.path
        ? []
        : [`${probe}: ${port}${get?.path}, health_check answers on ${want.port}${want.path}`];
    });
  }

  it('both tiers run the same otelcol-contrib image, pinned', () => {
    expect(routerContainer.image).toMatch(/^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/);
    expect(samplerContainer.image).toBe(routerContainer.image);
  });

  it('tier 2 loads collector.yaml, health-contrib.yaml, then sampler.yaml', () => {
    expect(mountedConfigFiles(sampler, samplerContainer).map((f) => basename(f))).toEqual([
      'collector.yaml',
      'health-contrib.yaml',
      'sampler.yaml',
    ]);
  });

  it('tier 2 uses only components otelcol-contrib ships, health_check not healthcheckv2, and probes it', () => {
    const config = samplerConfig();
    expect(contribProblems(config)).toEqual([]);
    expect(probeProblems(sampler, samplerContainer, config)).toEqual([]);
  });

  it('the contrib and probe checks refuse the Jaeger health overlay and its /status path (so they can fail)', () => {
    // health-jaeger.yaml has no copy under deploy/k8s: take the original
    const files = mountedConfigFiles(sampler, samplerContainer).map((f) =>
      f.endsWith('/health-contrib.yaml') ? repoPath('deploy/collector/health-jaeger.yaml') : f,
    );
    const config = loadCollectorConfig(files, resolveEnv(sampler, samplerContainer).values);
    expect(contribProblems(config)).toEqual([
      'extensions: healthcheckv2 is not a type otelcol-contrib ships',
      'contrib: extension healthcheckv2 is not in this binary (it has health_check)',
      'contrib: service.extensions enables no health_check',
    ]);
    expect(probeProblems(sampler, samplerContainer, config)).toEqual(['no health_check extension']);
    const good = samplerConfig();
    const statusProbe = {
      ...samplerContainer,
      readinessProbe: { httpGet: { path: '/status', port: 'health' } },
    };
    expect(probeProblems(sampler, statusProbe, good)).toEqual([
      'readinessProbe: 13134/status, health_check answers on 13134/',
    ]);
  });

  it('tier 1 routes spans by trace id to the headless Service of tier 2', () => {
    expect(routerContainer.image).toMatch(/^otel\/opentelemetry-collector-contrib:\d+\.\d+\.\d+$/);
    const config = loadCollectorConfig(mountedConfigFiles(router, routerContainer));
    expect(routerProblems(config)).toEqual([]);
    expect(probeProblems(router, routerContainer, config)).toEqual([]);
  });

  it('the structural check refuses routing by service, or to a ClusterIP (so it can fail)', () => {
    const config = loadCollectorConfig(mountedConfigFiles(router, routerContainer));
    config.exporters['loadbalancing/traces'].routing_key = 'service';
    config.exporters['loadbalancing/traces'].resolver.dns.hostname = 'otel-collector';
    config.exporters['loadbalancing/traces'].resolver.dns.port = 4317;
    expect(routerProblems(config)).toEqual([
      'loadbalancing/traces: routing_key is service, not traceID',
      'loadbalancing/traces: resolver.dns.port must be a string',
      'loadbalancing/traces: Service otel-collector is not headless',
    ]);
  });

  it('tier 2 tail-samples every trace pipeline that reaches Jaeger, and computes span metrics first', () => {
    const config = samplerConfig();
    const toJaeger = pipelines(config, 'traces').filter((p) =>
      (p.exporters ?? []).some((id: string) =>
        /^jaeger[:.]/.test(config.exporters[id]?.endpoint ?? ''),
      ),
    );
    expect(toJaeger.length).toBeGreaterThan(0);
    for (const p of toJaeger) expect(p.processors).toContain('tail_sampling');
    expect(Object.keys(config.processors.tail_sampling.policies ?? {}).length).toBeGreaterThan(0);
    expect(pipelines(config, 'traces').some((p) => p.exporters.includes('spanmetrics'))).toBe(true);
    const jaeger = services.find((s) => s.metadata.name === 'jaeger');
    const { port } = hostPort(config.exporters['otlp/jaeger'].endpoint);
    expect(jaeger.spec.ports.map((p: any) => p.port)).toContain(port);
  });

  it('jaeger: the configs it loads pass jaeger validate, with healthcheckv2 only', async () => {
    const jaeger = workloads.find((w) => w.metadata.name === 'jaeger')!;
    const container = podSpec(jaeger).containers[0];
    const files = mountedConfigFiles(jaeger, container);
    const env = resolveEnv(jaeger, container).values;
    const result = await jaegerValidate(files, env);
    expect(result.output).not.toMatch(/error/i);
    expect(result.ok).toBe(true);
    expect(healthProblems(loadCollectorConfig(files, env), 'jaeger')).toEqual([]);
  }, 120_000);

  it('tier 2: the rest of what it loads passes jaeger validate (with the Jaeger health overlay instead)', async () => {
    const files = mountedConfigFiles(sampler, samplerContainer);
    const swapped = files.map((f) =>
      f.endsWith('/health-contrib.yaml') ? repoPath('deploy/collector/health-jaeger.yaml') : f,
    );
    expect(swapped).not.toEqual(files);
    const result = await jaegerValidate(swapped, resolveEnv(sampler, samplerContainer).values);
    expect(result.output).not.toMatch(/error/i);
    expect(result.ok).toBe(true);
  }, 120_000);

  it.each([
    ['jaeger/jaeger.yaml', 'deploy/jaeger/jaeger.yaml'],
    ['collector/collector.yaml', 'deploy/collector/collector.yaml'],
    ['collector/health-contrib.yaml', 'deploy/collector/health-contrib.yaml'],
  ])('%s is the same file as %s', (copy, original) => {
    expect(readFileSync(repoPath(K8S, copy), 'utf8')).toBe(readText(original));
  });
});

const NAMESPACE: string = kustomization.namespace;
const policies = byKind('NetworkPolicy');

/** Something that opens a connection: a pod, with its labels and its namespace's. */
interface Peer {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
}

/** A pod that receives connections: its labels and named container ports. */
interface Target {
  readonly name: string;
  readonly labels: Record<string, string>;
  readonly ports: Map<string, number>;
}

function matchesSelector(selector: any, labels: Record<string, string>): boolean {
  const matchLabels = Object.entries<string>(selector?.matchLabels ?? {});
  const expressions: any[] = selector?.matchExpressions ?? [];
  return (
    matchLabels.every(([k, v]) => labels[k] === v) &&
    expressions.every((e) => {
      switch (e.operator) {
        case 'In':
          return e.values.includes(labels[e.key]);
        case 'NotIn':
          return !e.values.includes(labels[e.key]);
        case 'Exists':
          return e.key in labels;
        case 'DoesNotExist':
          return !(e.key in labels);
        default:
          throw new Error(`unknown selector operator ${e.operator}`);
      }
    })
  );
}

function namespaceLabels(namespace: string): Record<string, string> {
  return { 'kubernetes.io/metadata.name': namespace };
}

/**
 * Whether `policySet` lets `source` open a TCP connection to `port` of `target`, as the
 * NetworkPolicy API defines it: a pod no ingress policy selects accepts everything; a selected
 * one accepts what any rule of any policy selecting it admits (ports by number or by container
 * port name; a peer's podSelector alone means this namespace, a namespaceSelector the pods of the
 * namespaces it matches).
 */
function admits(policySet: any[], target: Target, port: number, source: Peer): boolean {
  const selecting = policySet.filter(
    (p) =>
      (p.spec.policyTypes ?? ['Ingress']).includes('Ingress') &&
      matchesSelector(p.spec.podSelector, target.labels),
  );
  if (selecting.length === 0) return true;
  const portMatches = (rulePorts: any[] | undefined) =>
    !rulePorts?.length ||
    rulePorts.some(
      (p) =>
        (p.protocol ?? 'TCP') === 'TCP' &&
        (p.port === undefined ||
          (typeof p.port === 'number' ? p.port : target.ports.get(p.port)) === port),
    );
  const peerMatches = (from: any[] | undefined) =>
    !from?.length ||
    from.some((peer) => {
      if (peer.ipBlock) return false;
      const inNamespace = peer.namespaceSelector
        ? matchesSelector(peer.namespaceSelector, namespaceLabels(source.namespace))
        : source.namespace === NAMESPACE;
      return inNamespace && (!peer.podSelector || matchesSelector(peer.podSelector, source.labels));
    });
  return selecting.some((p) =>
    (p.spec.ingress ?? []).some((rule: any) => portMatches(rule.ports) && peerMatches(rule.from)),
  );
}

const podLabels = (workload: any): Record<string, string> =>
  workload.spec.template.metadata.labels ?? {};

/** The pods of these manifests, then Postgres, Redis and NATS as they would run in the namespace. */
const targets: Target[] = [
  ...workloads.map((w) => ({
    name: w.metadata.name as string,
    labels: podLabels(w),
    ports: containerPorts(w),
  })),
  ...Object.entries(EXTERNAL).map(([name, port]) => ({
    name,
    labels: { 'app.kubernetes.io/name': name },
    ports: new Map([[name, port]]),
  })),
];

/** Who may call: every pod of these manifests, and pods elsewhere in the cluster. */
const OUTSIDE: Peer = {
  name: 'a pod in another namespace',
  namespace: 'ingress-nginx',
  labels: { 'app.kubernetes.io/name': 'ingress-nginx' },
};
const PROMETHEUS: Peer = {
  name: 'prometheus',
  namespace: 'monitoring',
  labels: { 'app.kubernetes.io/name': 'prometheus' },
};
const GRAFANA: Peer = {
  name: 'grafana',
  namespace: 'monitoring',
  labels: { 'app.kubernetes.io/name': 'grafana' },
};
const peers: Peer[] = [
  ...workloads.map((w) => ({ name: w.metadata.name, namespace: NAMESPACE, labels: podLabels(w) })),
  OUTSIDE,
  PROMETHEUS,
  GRAFANA,
];

/** For each `target:port`, the peers `policySet` admits. */
function admissionMatrix(policySet: any[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const target of targets) {
    for (const [portName, port] of target.ports) {
      out[`${target.name}:${portName}`] = peers
        .filter((peer) => admits(policySet, target, port, peer))
        .map((p) => p.name)
        .sort();
    }
  }
  return out;
}

/**
 * Addresses a service learns at run time rather than from its env, with who dials them: task
 * pushes to the PushService address each gateway advertises in Redis presence; logic appends to
 * the journal node placement names.
 */
const ADVERTISED: Record<string, { variable: string; callers: string[] }> = {
  gateway: { variable: 'PUSH_ADVERTISE_ADDRESS', callers: ['task'] },
  journal: { variable: 'JOURNAL_ADVERTISE_ADDRESS', callers: ['logic'] },
};

/**
 * Calls between the collector tiers, Jaeger and the monitoring pods: tier 1 routes to tier 2 by
 * trace id, tier 2 sends kept traces to Jaeger, Grafana queries Jaeger, Prometheus scrapes the
 * metrics ports.
 */
const TELEMETRY_CALLERS: Record<string, string[]> = {
  'otel-collector:metrics': ['prometheus'],
  'otel-collector-sampler:otlp-grpc': ['otel-collector'],
  'otel-collector-sampler:prometheus': ['prometheus'],
  'otel-collector-sampler:metrics': ['prometheus'],
  'jaeger:otlp-grpc': ['otel-collector-sampler'],
  'jaeger:query': ['grafana'],
  'jaeger:metrics': ['prometheus'],
};

/** The port name of `port` on the workloads a Service host selects (or an external database). */
function dialled(host: string, port: number): string[] {
  if (host in EXTERNAL) return [`${host}:${host}`];
  const service = services.find((s) => s.metadata.name === host);
  const servicePort = service?.spec.ports.find((p: any) => p.port === port);
  if (!servicePort) throw new Error(`no Service port ${host}:${port}`);
  const number = targetOf(service, servicePort);
  return workloads
    .filter((w) => selects(service, w))
    .map((w) => {
      const name = [...containerPorts(w)].find(([, n]) => n === number)?.[0];
      return `${w.metadata.name}:${name}`;
    });
}

/**
 * Who should reach what: the calls the services' config makes (every dial variable, resolved
 * from the manifests), the advertised addresses, OTLP from every service into tier 1, the
 * gateways' WebSocket port from anywhere, and the telemetry tier's calls.
 */
function expectedMatrix(): Record<string, string[]> {
  const expected: Record<string, Set<string>> = {};
  const add = (key: string, callers: string[]) => {
    for (const c of callers) (expected[key] ??= new Set()).add(c);
  };
  for (const [name, app, workload, container] of tracechat) {
    const env = resolveEnv(workload, container).values;
    for (const variable of dialVariables(loadServiceEnv(app))) {
      if (env[variable] === undefined) continue;
      const { host, port } = hostPort(env[variable]);
      for (const key of dialled(host, port)) add(key, [name]);
    }
    const advertised = ADVERTISED[app];
    if (advertised) {
      const { port } = hostPort(env[advertised.variable]!);
      const portName = [...containerPorts(workload)].find(([, n]) => n === port)![0];
      add(`${name}:${portName}`, advertised.callers);
    }
    if (app === 'gateway') {
      add(
        `${name}:ws`,
        peers.map((p) => p.name),
      );
      add(
        `${name}:mqtt`,
        peers.map((p) => p.name),
      );
    }
  }
  add(
    'otel-collector:otlp-grpc',
    tracechat.map(([name]) => name),
  );
  add(
    'otel-collector:otlp-http',
    tracechat.map(([name]) => name),
  );
  for (const [key, callers] of Object.entries(TELEMETRY_CALLERS)) add(key, callers);
  const matrix = admissionMatrix([]);
  return Object.fromEntries(
    Object.keys(matrix).map((key) => [key, [...(expected[key] ?? [])].sort()]),
  );
}

describe('network policies (deploy/k8s/networkpolicies.yaml)', () => {
  it('denies all ingress in the namespace unless a policy admits it', () => {
    const deny = policies.filter(
      (p) =>
        Object.keys(p.spec.podSelector ?? {}).length === 0 &&
        (p.spec.policyTypes ?? []).includes('Ingress') &&
        !(p.spec.ingress ?? []).length,
    );
    expect(deny.map((p) => p.metadata.name)).toEqual(['default-deny-ingress']);
    // a pod no other policy names accepts nothing
    const stray: Target = { name: 'stray', labels: { app: 'stray' }, ports: new Map([['x', 80]]) };
    expect(peers.filter((peer) => admits(policies, stray, 80, peer))).toEqual([]);
  });

  it('every port a Service exposes admits someone, and the gateway Service only the WebSocket and MQTT ports', () => {
    const closed: string[] = [];
    for (const service of services) {
      for (const port of service.spec.ports) {
        const number = targetOf(service, port)!;
        const pods = workloads.filter((w) => selects(service, w));
        const open = pods.some((w) =>
          peers.some((peer) =>
            admits(
              policies,
              { name: w.metadata.name, labels: podLabels(w), ports: containerPorts(w) },
              number,
              peer,
            ),
          ),
        );
        if (!open) closed.push(`${service.metadata.name}:${port.port}`);
      }
    }
    expect(closed).toEqual([]);
    const gateway = services.find((s) => s.metadata.name === 'gateway');
    expect(gateway.spec.ports.map((p: any) => p.targetPort)).toEqual(['ws', 'mqtt']);
  });

  it('admits exactly the callers the services dial, OTLP from every service, and the telemetry tier', () => {
    expect(admissionMatrix(policies)).toEqual(expectedMatrix());
  });

  it("logic's gRPC port admits gateway and task pods only; the gateways' WebSocket and MQTT ports admit anyone", () => {
    const matrix = admissionMatrix(policies);
    expect(matrix['logic:grpc']).toEqual(['gateway', 'task']);
    expect(matrix['gateway:push']).toEqual(['task']);
    expect(matrix['gateway:ws']).toContain(OUTSIDE.name);
    expect(matrix['gateway:mqtt']).toContain(OUTSIDE.name);
    expect(matrix['journal:grpc']).toEqual(['logic']);
    expect(matrix['placement:grpc']).toEqual(['journal', 'logic']);
  });

  it("the gateway's admin port is named, in no Service, and admitted from no pod", () => {
    const gateway = workloads.find((w) => w.metadata.name === 'gateway')!;
    const admin = containerPorts(gateway).get('admin');
    expect(admin).toBe(8090);
    for (const service of services.filter((s) => selects(s, gateway))) {
      expect(service.spec.ports.map((p: any) => targetOf(service, p))).not.toContain(admin);
    }
    expect(admissionMatrix(policies)['gateway:admin']).toEqual([]);
  });

  it('the matrix check refuses a policy opened to every pod (so the checks above can fail)', () => {
    const opened = policies.map((p) =>
      p.metadata.name === 'logic'
        ? { ...p, spec: { ...p.spec, ingress: [{ ports: p.spec.ingress[0].ports }] } }
        : p,
    );
    const matrix = admissionMatrix(opened);
    expect(matrix['logic:grpc']).toContain(OUTSIDE.name);
    expect(matrix).not.toEqual(expectedMatrix());
    const withoutDeny = policies.filter((p) => p.metadata.name !== 'default-deny-ingress');
    // without the default deny, a pod no other policy names (task) accepts anyone
    expect(admissionMatrix(withoutDeny)['task:health']).toContain(OUTSIDE.name);
    expect(admissionMatrix(withoutDeny)).not.toEqual(expectedMatrix());
  });
});

describe('secrets and environment', () => {
  const MIN_SECRET = 32;
  const shipped = secrets.get('tracechat-secrets')!;

  it('secrets.yaml ships placeholders the services refuse, not secrets', () => {
    for (const key of ['AUTH_SECRET', 'SERVICE_SECRET', 'ADMIN_TOKEN']) {
      expect(`${key}=${shipped[key]}`).toBe(`${key}=REPLACE-ME`);
      expect(shipped[key]!.length).toBeLessThan(MIN_SECRET);
    }
    expect(shipped.DATABASE_URL).toMatch(/:REPLACE-ME@/);
  });

  it('every service gets SERVICE_SECRET from the Secret, and the gateways AUTH_SECRET and ADMIN_TOKEN', () => {
    for (const [name, app, , container] of tracechat) {
      const fromSecret = (variable: string) =>
        container.env.find((e: any) => e.name === variable)?.valueFrom?.secretKeyRef?.name;
      expect(`${name} SERVICE_SECRET from ${fromSecret('SERVICE_SECRET')}`).toBe(
        `${name} SERVICE_SECRET from tracechat-secrets`,
      );
      if (app === 'gateway') {
        for (const variable of ['AUTH_SECRET', 'ADMIN_TOKEN'])
          expect(`${variable} from ${fromSecret(variable)}`).toBe(
            `${variable} from tracechat-secrets`,
          );
      }
    }
  });

  it('runs as production, and the sampler tier keeps 10 % of ordinary traces', () => {
    expect(configMaps.get('tracechat-telemetry')!.data.ENVIRONMENT).toBe('production');
    const sampler = workloads.find((w) => w.metadata.name === 'otel-collector-sampler')!;
    const container = podSpec(sampler).containers[0];
    const config = loadCollectorConfig(
      mountedConfigFiles(sampler, container),
      resolveEnv(sampler, container).values,
    );
    const baseline = config.processors.tail_sampling.policies.find(
      (p: any) => p.type === 'probabilistic',
    );
    expect(Number(baseline.probabilistic.sampling_percentage)).toBe(10);
  });
});
