/** Colours of tracechat's own services; they keep their colour in every view. */
const SERVICE_COLORS: Readonly<Record<string, string>> = {
  web: '#2f80ed',
  gateway: '#27ae60',
  logic: '#9b51e0',
  journal: '#f2994a',
  task: '#eb5757',
  placement: '#56ccf2',
};

/** Colours for other services, chosen by a hash of the name. */
const OTHER_COLORS = ['#bb6bd9', '#6fcf97', '#f2c94c', '#2d9cdb', '#e07a5f', '#81b29a', '#a0a0a0'];

/**
 * A stable hex colour (`#rrggbb`) per service: a fixed one for tracechat's services, otherwise one
 * picked by an FNV-1a hash of the name, so a service keeps its colour across traces and runs.
 */
export function serviceColor(service: string): string {
  const known = SERVICE_COLORS[service];
  if (known) return known;
  let hash = 0x811c9dc5;
  for (let i = 0; i < service.length; i++) {
    hash ^= service.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return OTHER_COLORS[hash % OTHER_COLORS.length]!;
}
