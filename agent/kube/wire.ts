// kube/wire.ts: the Kubernetes objects as they arrive in JSON, only the fields nodewarden reads
// or writes. Times are strings on the wire (RFC 3339); nothing here is parsed or validated
// beyond JSON, so every field is optional and every reader checks what it uses.

export interface ObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly labels?: Readonly<Record<string, string>>;
}

export interface ListMeta {
  readonly resourceVersion?: string;
  readonly continue?: string;
}

export interface List<T> {
  readonly metadata?: ListMeta;
  readonly items: readonly T[];
}

export interface Pod {
  readonly metadata?: ObjectMeta;
  readonly spec?: { readonly nodeName?: string; readonly hostNetwork?: boolean };
  readonly status?: {
    readonly phase?: string;
    readonly podIP?: string;
    readonly podIPs?: readonly { readonly ip?: string }[];
  };
}

export interface Service {
  readonly metadata?: ObjectMeta;
  readonly spec?: {
    readonly type?: string;
    readonly clusterIP?: string;
    readonly clusterIPs?: readonly string[];
    readonly selector?: Readonly<Record<string, string>>;
  };
}

export interface NodeCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly lastTransitionTime?: string;
  readonly lastHeartbeatTime?: string;
}

export interface Node {
  readonly metadata?: ObjectMeta;
  readonly status?: { readonly conditions?: readonly NodeCondition[] };
}

/** core/v1 Event, as nodewarden creates it (times as RFC 3339 strings, whole seconds). */
export interface Event {
  readonly metadata?: ObjectMeta;
  readonly involvedObject?: {
    readonly apiVersion?: string;
    readonly kind?: string;
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
  };
  readonly type?: string;
  readonly reason?: string;
  readonly message?: string;
  readonly source?: { readonly component?: string; readonly host?: string };
  readonly count?: number;
  readonly firstTimestamp?: string;
  readonly lastTimestamp?: string;
  readonly reportingComponent?: string;
  readonly reportingInstance?: string;
}

/** One line of a watch stream. ERROR carries a metav1.Status (`code` 410: resourceVersion gone). */
export interface WatchEvent<T> {
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR' | string;
  readonly object: T & { readonly code?: number };
}
