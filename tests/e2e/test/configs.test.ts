import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, jaegerBinary } from '@tracechat/testkit';

const run = promisify(execFile);

describe('collector and Jaeger configs', () => {
  it.each([
    [['deploy/jaeger/jaeger.yaml']],
    [['deploy/collector/collector.yaml', 'deploy/collector/health-jaeger.yaml']],
  ])('%j passes jaeger validate (as the native stack runs it)', async (files) => {
    const jaeger = await jaegerBinary();
    const args = files.flatMap((f) => ['--config', join(REPO_ROOT, f)]);
    await expect(run(jaeger, ['validate', ...args])).resolves.toBeDefined();
  }, 120_000);

  it('jaeger validate refuses a misspelled tail sampling setting (so the check above can fail)', async () => {
    const jaeger = await jaegerBinary();
    const original = await readFile(join(REPO_ROOT, 'deploy/collector/collector.yaml'), 'utf8');
    expect(original).toContain('threshold_ms:');
    const dir = await mkdtemp(join(tmpdir(), 'collector-'));
    try {
      const file = join(dir, 'collector.yaml');
      await writeFile(file, original.replace('threshold_ms:', 'threshold_millis:'));
      const health = join(REPO_ROOT, 'deploy/collector/health-jaeger.yaml');
      await expect(run(jaeger, ['validate', '--config', file, '--config', health])).rejects.toThrow(/threshold_millis/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
