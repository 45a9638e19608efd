import { useEffect } from 'react';

/** Calls `load` now and then every `everyMs` while the component is shown, again from the start when `load` changes. */
export function usePolling(load: () => Promise<void>, everyMs: number): void {
  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), everyMs);
    return () => window.clearInterval(timer);
  }, [load, everyMs]);
}
