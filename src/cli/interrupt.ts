/**
 * Ctrl-C for a long command: the first SIGINT aborts the returned signal (the run stops at its next step or
 * iteration and ends normally, exit 130), a second one quits at once with 130. `release` removes the handler.
 */
export function interruptOnSigint(announce: () => void): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    announce();
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, release: () => void process.off('SIGINT', onSigint) };
}
