// Not a Redis design: what the library's in-process view is compared with. A plain Map from service
// name to the array of that service's parsed records, behind a lookup with the view's call shape
// (async, returns a copy of the array so the caller cannot change the cache).

export class MapCache {
  byService = new Map();

  /** Fills the cache from raw records (JSON), one parsed object per record. */
  constructor(rawRecords = []) {
    for (const raw of rawRecords) this.add(JSON.parse(raw));
  }

  add(node) {
    for (const { name } of node.services) {
      const list = this.byService.get(name);
      if (list) list.push(node);
      else this.byService.set(name, [node]);
    }
  }

  async findNodesByService(serviceName) {
    const list = this.byService.get(serviceName);
    return list ? list.slice() : [];
  }
}
