/**
 * Test file order. Jest's `--randomize` shuffles the tests inside each file; this sequencer also
 * shuffles the files then, from `--seed=N` when given (printed otherwise, to replay an order).
 * Without `--randomize` files run in path order.
 */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class FileOrder {
  sort(tests) {
    const sorted = [...tests].sort((a, b) => a.path.localeCompare(b.path));
    if (!process.argv.includes('--randomize')) return sorted;
    const given = process.argv.find((arg) => arg.startsWith('--seed='));
    const seed = given ? Number(given.slice('--seed='.length)) : Math.floor(Math.random() * 2 ** 31);
    if (!given) process.stderr.write(`test files shuffled with --seed=${seed}\n`);
    const random = mulberry32(seed);
    for (let i = sorted.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [sorted[i], sorted[j]] = [sorted[j], sorted[i]];
    }
    return sorted;
  }

  shard(tests, { shardIndex, shardCount }) {
    const size = Math.ceil(tests.length / shardCount);
    return [...tests]
      .sort((a, b) => a.path.localeCompare(b.path))
      .slice(size * (shardIndex - 1), size * shardIndex);
  }

  allFailedTests(tests) {
    return tests;
  }

  cacheResults() {}
}

module.exports = FileOrder;
