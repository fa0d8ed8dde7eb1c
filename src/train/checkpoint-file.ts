/** Training checkpoints as files, in Node: written atomically, verified on load (the layout is checkpoint.ts's). */
import { loadCheckpointFile, saveCheckpointFile } from '../checkpoint/file.js';
import { snapshotFromCheckpoint, snapshotToCheckpoint } from './checkpoint.js';
import type { TrainingSnapshot } from './trainer.js';

/** Writes a snapshot atomically (the Trainer's `writeCheckpoint` hook in Node). */
export async function saveTrainingCheckpoint(path: string, s: TrainingSnapshot): Promise<void> {
  await saveCheckpointFile(path, snapshotToCheckpoint(s));
}

export async function loadTrainingCheckpoint(path: string): Promise<TrainingSnapshot> {
  return snapshotFromCheckpoint(await loadCheckpointFile(path), path);
}
