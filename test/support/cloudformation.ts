/** Queries on a template `serverless package` writes: resources by type, roles' statements, environments. */
import type { Resource, Template } from './serverless-package';

export type Statement = {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
};

export const ofType = (t: Template, type: string): Array<[string, Resource]> =>
  Object.entries(t.Resources).filter(([, r]) => r.Type === type);

/** Every statement of a role's inline policies, in order. */
export const statements = (role: Resource | undefined): Statement[] =>
  ((role as Resource).Properties.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }>).flatMap(
    (p) => p.PolicyDocument.Statement,
  );
export const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const bySid = (role: Resource | undefined): Record<string, Statement> =>
  Object.fromEntries(statements(role).map((s) => [String(s.Sid), s]));

/** A function's environment variables; a function without an environment fails the test by name. */
export const envOf = (t: Template, fn: string): Record<string, unknown> => {
  const environment = (t.Resources[fn] as Resource).Properties.Environment as
    | { Variables: Record<string, unknown> }
    | undefined;
  if (!environment) throw new Error(`${fn} has no Environment`);
  return environment.Variables;
};
export const alarmsOf = (t: Template): Array<Record<string, unknown>> =>
  ofType(t, 'AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);

/** Every S3 action a role has on the lake bucket, with the resource it applies to. */
export const lakeBucketGrants = (role: Resource | undefined): string[] =>
  statements(role)
    .filter((s) => JSON.stringify(s.Resource).includes('LakeBucket'))
    .flatMap((s) => actions(s).map((a) => `${a} ${JSON.stringify(s.Resource)}`))
    .sort();
export const glueArn = (resource: string) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:glue:\${AWS::Region}:\${AWS::AccountId}:${resource}`,
});

/** The CloudWatch dashboard's body: its widgets and the metrics each charts. */
export const dashboardOf = (t: Template) =>
  JSON.parse(
    ((t.Resources.Dashboard as Resource).Properties.DashboardBody as { 'Fn::Sub': string })['Fn::Sub'],
  ) as {
    widgets: Array<{ x: number; y: number; properties: { metrics: string[][] } }>;
  };
