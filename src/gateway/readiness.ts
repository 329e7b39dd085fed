import type { UpdateStore } from '../inbox/update-store.js';
import type { SkillRuntimeStatus } from '../skills/runtime.js';
import type { InboxWatch } from './inbox-watch.js';

export interface Readiness {
  ready: boolean;
  reasons: string[];
  detail?: object;
}

export interface ReadinessParts {
  skills: SkillRuntimeStatus;
  store: Pick<UpdateStore, 'isOpen' | 'stats' | 'kind' | 'location'>;
  /** With DATABASE_URL: this replica and how many are alive (the database is the store, so it is part of readiness). */
  replicas?: { replicaId: string; liveReplicas(): number };
  inboxWatch: Pick<InboxWatch, 'notReadyReason' | 'detail'>;
  closing: boolean;
  /** Webhook mode with PUBLIC_URL: whether registration worked (undefined: not yet). */
  webhookRegistered: boolean | undefined | 'not used';
}

/** /readyz: ready only when every part is; each part that is not says why. */
export function readinessOf(parts: ReadinessParts): Readiness {
  const { skills, store, inboxWatch } = parts;
  const reasons: string[] = [];
  if (!skills.ready) reasons.push(...(skills.reasons.length > 0 ? skills.reasons : ['skills not loaded']));
  if (!store.isOpen) reasons.push('store closed');
  const storeTrouble = inboxWatch.notReadyReason();
  if (storeTrouble) reasons.push(storeTrouble);
  if (parts.closing) reasons.push('shutting down');
  if (parts.webhookRegistered !== 'not used' && parts.webhookRegistered !== true) {
    reasons.push(parts.webhookRegistered === false ? 'webhook registration failed' : 'webhook not registered yet');
  }
  // The sandbox up front: `sandbox: none` is what an operator's probe should catch.
  return {
    ready: reasons.length === 0,
    reasons,
    detail: {
      sandbox: skills.sandbox,
      skills,
      inbox: { ...store.stats(), ...inboxWatch.detail() },
      store: { kind: store.kind, location: store.location },
      ...(parts.replicas
        ? { database: { location: store.location, writable: !storeTrouble, replica: parts.replicas.replicaId, liveReplicas: parts.replicas.liveReplicas() } }
        : {}),
    },
  };
}
