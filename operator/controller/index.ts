/** The operator's impure shell: controller, work queue, informers, leader election, Events and metrics. */
export { ClusterController, FIELD_MANAGER, certificateInputs } from "./cluster-controller.js";
export { ClusterCertificates, readStoredCertificates } from "./certificates.js";
export type { CertificateDeps, CertificateInputs, StoredCertificates } from "./certificates.js";
export type { ClusterControllerDeps } from "./cluster-controller.js";
export { DEFAULT_OPERATOR, Operator } from "./operator.js";
export type { OperatorOptions } from "./operator.js";
export { DEFAULT_WORK_QUEUE, WorkQueue } from "./work-queue.js";
export type { Handler, Timers, WorkQueueOptions } from "./work-queue.js";
export { DEFAULT_LEADER_ELECTION, LeaderElector } from "./leader-election.js";
export { EventRecorder } from "./events.js";
export { OperatorMetrics } from "./metrics.js";
export { RestartingInformer } from "./informer.js";
