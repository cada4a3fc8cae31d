// fake-apiserver-services.ts: Services for the fake API server (registered through its route
// table): list across namespaces and in one namespace, with the real server's field labels
// (fake-field-selector.ts: spec.clusterIP matches the primary ClusterIP only) and limit; create
// (a ClusterIP allocated from 10.96.0.0/16 unless one is given, `None` for headless, clusterIPs
// mirrors it; 409 on an existing name; 404 for an unknown namespace when the namespace map is
// known) and delete. ExternalName Services get no ClusterIP, as on a real server.
import { status, type FakeApiServer } from './fake-apiserver';
import { matchesTerms, parseFieldSelector, serviceFields, SERVICE_FIELD_LABELS } from './fake-field-selector';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const NAME = '([^/]+)';

export interface ServiceSpecLite {
  namespace: string;
  name: string;
  selector?: Record<string, string>;
  /** Default: allocated. 'None' makes a headless Service. */
  clusterIPs?: string[];
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
}

export class FakeServices {
  /** `${namespace}/${name}` → Service. */
  readonly services = new Map<string, Json>();
  private next = 10;

  constructor(
    private readonly api: FakeApiServer,
    private readonly namespaces?: ReadonlyMap<string, unknown>,
  ) {
    api.route('GET', /^\/api\/v1\/services$/, (r) => this.list(undefined, r.query));
    api.route('GET', new RegExp(`^/api/v1/namespaces/${NAME}/services$`), (r) => this.list(r.params[0], r.query));
    api.route('POST', new RegExp(`^/api/v1/namespaces/${NAME}/services$`), (r) => {
      const ns = r.params[0]!;
      const body = (r.body ?? {}) as Json;
      const name = String(body.metadata?.name ?? '');
      if (this.namespaces && !this.namespaces.has(ns))
        return status(404, `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
      if (name === '') return status(422, 'Service "" is invalid: metadata.name: Required value');
      if (this.services.has(`${ns}/${name}`))
        return status(409, `services "${name}" already exists`, { name, kind: 'services' });
      const given = body.spec?.clusterIPs ?? (body.spec?.clusterIP ? [body.spec.clusterIP] : undefined);
      const created = this.put(
        {
          namespace: ns,
          name,
          selector: body.spec?.selector,
          type: body.spec?.type,
          ...(Array.isArray(given) ? { clusterIPs: given.map(String) } : {}),
        },
        body.spec?.ports,
      );
      return { code: 201, body: created };
    });
    api.route('DELETE', new RegExp(`^/api/v1/namespaces/${NAME}/services/${NAME}$`), (r) => {
      const key = `${r.params[0]}/${r.params[1]}`;
      const svc = this.services.get(key);
      if (!svc) return status(404, `services "${r.params[1]}" not found`, { name: r.params[1], kind: 'services' });
      this.services.delete(key);
      return { code: 200, body: svc };
    });
  }

  private list(ns: string | undefined, q: URLSearchParams) {
    const terms = parseFieldSelector(q.get('fieldSelector'), SERVICE_FIELD_LABELS);
    if ('error' in terms) return status(400, terms.error);
    let items = [...this.services.values()].filter(
      (s) => (ns === undefined || s.metadata.namespace === ns) && matchesTerms(serviceFields(s), terms),
    );
    const limit = Number(q.get('limit') ?? '0');
    if (limit > 0) items = items.slice(0, limit);
    return {
      code: 200,
      body: {
        kind: 'ServiceList',
        apiVersion: 'v1',
        metadata: { resourceVersion: this.api.nextResourceVersion() },
        items,
      },
    };
  }

  /** Adds or replaces a Service; returns it as the server would. */
  put(s: ServiceSpecLite, ports?: unknown): Json {
    const type = s.type ?? 'ClusterIP';
    let ips = s.clusterIPs;
    if (type === 'ExternalName') ips = [];
    else if (ips === undefined || ips.length === 0) {
      ips = [`10.96.${Math.floor(this.next / 250)}.${(this.next % 250) + 1}`];
      this.next++;
    }
    const svc = {
      kind: 'Service',
      apiVersion: 'v1',
      metadata: {
        namespace: s.namespace,
        name: s.name,
        uid: `uid-svc-${s.namespace}-${s.name}`,
        resourceVersion: this.api.nextResourceVersion(),
      },
      spec: {
        type,
        ...(s.selector ? { selector: s.selector } : {}),
        ...(ports !== undefined ? { ports } : {}),
        ...(ips.length > 0 ? { clusterIP: ips[0], clusterIPs: ips } : {}),
      },
      status: { loadBalancer: {} },
    };
    this.services.set(`${s.namespace}/${s.name}`, svc);
    return svc;
  }
}
