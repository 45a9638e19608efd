import type { ClusterResponse } from './api';
import { absoluteTime, relativeTime } from './format';

/** The replicas sharing the store, and which one answered this page's requests. */
export function ClusterPanel({ cluster, error }: { cluster?: ClusterResponse; error?: string }) {
  return (
    <section className="card" data-testid="cluster-panel">
      <h2>Cluster</h2>
      {error && (
        <p className="error" data-testid="cluster-error">
          {error}
        </p>
      )}
      {cluster && (
        <>
          <p className="hint">
            Answered by <code data-testid="cluster-answered-by">{cluster.answeredBy}</code> · {cluster.replicas.length}{' '}
            {cluster.replicas.length === 1 ? 'replica' : 'replicas'}
          </p>
          <table data-testid="cluster-table">
            <thead>
              <tr>
                <th>Replica</th>
                <th>Last seen</th>
                <th className="num">In-flight streams</th>
              </tr>
            </thead>
            <tbody>
              {cluster.replicas.map((r) => (
                <tr key={r.id} data-testid={`replica-row-${r.id}`} className={r.self ? 'self' : undefined}>
                  <td>
                    <code>{r.id}</code> {r.self && <span className="badge">this one</span>}
                  </td>
                  <td title={absoluteTime(r.lastSeen)}>{relativeTime(r.lastSeen)}</td>
                  <td className="num">{r.inFlight}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
