// admin-client.ts: the e2e harness's own API client, from the admin kubeconfig: client-node's
// full generated CoreV1Api (Nodes, Namespaces, Pods, Services, Events: create, read, delete).
// The agent does not bundle it; it makes its handful of calls through agent/kube/core-api.ts.
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

export interface AdminClient {
  readonly core: CoreV1Api;
}

export function createAdminClient(kubeconfig: string): AdminClient {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { core: kc.makeApiClient(CoreV1Api) };
}
