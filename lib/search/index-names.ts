/**
 * Index name templates: `{column}` / `{column:format}` over lake columns, like partition
 * templates. Default: one index per taxi service and pickup month, `trips-yellow-2018.01`;
 * trips without a service go to the default service's index. Names are made valid for
 * OpenSearch: lower case, no spaces or `\ / * ? " < > | , #`, not starting with - _ +.
 */
import type { LakeRow } from '../lake/lake-row';
import { compileRowTemplate } from '../lake/partitioning';

export const DEFAULT_INDEX_TEMPLATE = 'trips-{service}-{pickup_datetime:yyyy.MM}';

export class IndexTemplateError extends Error {
  constructor(template: string, problem: string) {
    super(`index template "${template}": ${problem}`);
    this.name = 'IndexTemplateError';
  }
}

const indexSafe = (value: string): string => value.toLowerCase().replace(/[^a-z0-9._-]/g, '_');

/**
 * Literal characters an installed index template needs before the first placeholder: its
 * pattern is `<prefix>*`, and a shorter prefix reaches indexes of other applications.
 */
export const MIN_INDEX_PREFIX_LENGTH = 3;

/** The literal text before the first placeholder: every index the template names starts with it. */
export function literalPrefixOf(template: string): string {
  const brace = template.indexOf('{');
  return brace < 0 ? template : template.slice(0, brace);
}

export function compileIndexTemplate(template: string, defaultService: string): (row: LakeRow) => string {
  const error = (problem: string) => new IndexTemplateError(template, problem);
  if (!/^[a-z0-9{]/.test(template))
    throw error('must start with a lower-case letter, a digit or a placeholder');
  const fn = compileRowTemplate(template, {
    nullValue: (column) => (column === 'service' ? indexSafe(defaultService) : 'none'),
    escapeValue: indexSafe,
    literal: /^[a-z0-9._-]*$/,
    literalHint: 'lower-case letters, digits and . _ -',
    error,
  });
  return (row) => fn(row).slice(0, 255);
}
