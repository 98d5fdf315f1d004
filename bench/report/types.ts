// Re-exports of the report model plus the minimal data-set shape analyze.ts needs, so the
// statistics can be driven by synthetic data in tests without going through the loader.

export type { Comparison, LoadedFile, VariantPoint, SuiteName, FileMeta } from './model.ts';
import type { Comparison, LoadedFile } from './model.ts';

export interface DataSetLike {
  files: Pick<LoadedFile, 'meta'>[];
  comparisons: Comparison[];
}
