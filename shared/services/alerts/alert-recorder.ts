/** What the sweep and the mitigations need to raise alerts: the outbox and the events' source. */
import type { AlertOutbox } from '../../ports/alert-outbox';

export interface AlertRecorder {
  outbox: AlertOutbox;
  /** CloudEvents `source` of every event (alertSource of the hub's host name). */
  source: string;
}
