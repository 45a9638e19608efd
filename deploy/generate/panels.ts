/**
 * Declarative panels for the gateway's Grafana dashboards, turned into dashboard JSON with the
 * Grafana Foundation SDK. A dashboard is rows of panels; a panel is a title, a unit and its PromQL
 * queries — adding a metric to a dashboard is one more `panel(...)` line in dashboards.ts.
 *
 * Every query uses the `$datasource` variable (never an `__inputs` block, which only the UI import
 * wizard resolves and which breaks sidecar and file provisioning) and filters on `$namespace` and
 * `$pod` through {@link SEL}; a dashboard may add variables of its own (the client keys dashboard's
 * `$key`, see {@link LabelVariable}).
 */
import { PanelBuilder as BarGaugePanelBuilder } from '@grafana/grafana-foundation-sdk/bargauge';
import {
  BarGaugeDisplayMode,
  BarGaugeNamePlacement,
  BigValueColorMode,
  BigValueGraphMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  StackingConfigBuilder,
  StackingMode,
  VizLegendOptionsBuilder,
  VizOrientation,
} from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  QueryVariableBuilder,
  RowBuilder,
  VariableRefresh,
  VariableSort,
  type Dashboard,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** Label matchers every query carries: the dashboard's namespace and pod variables. */
export const SEL = 'namespace=~"$namespace", pod=~"$pod"';

/** The datasource reference of every panel and variable. */
const DATASOURCE = { type: 'prometheus', uid: '$datasource' } as const;

/** A metric that exists on every replica from its first scrape; the variables list its label values. */
const VARIABLE_SOURCE = 'kiro_gateway_inflight_streams';

/** One PromQL query and its legend (`{{label}}` templates). */
export interface Query {
  expr: string;
  legend: string;
}

/**
 * One panel: a time series (default), a stat of the latest value, or `bars`: horizontal bars of
 * instant queries (one bar per series at the end of the range, e.g. a `topk` over `$__range`).
 */
export interface PanelSpec {
  title: string;
  description: string;
  /** Grafana unit id, e.g. `reqps`, `s`, `bytes`, `percentunit`, `short`. */
  unit: string;
  queries: Query[];
  kind?: 'timeseries' | 'stat' | 'bars';
  /** Stack the series (time series only). */
  stacked?: boolean;
  /** Grid columns out of 24 (default 12 for time series, 6 for stats and bars). */
  width?: number;
  min?: number;
  max?: number;
}

/** A titled row of panels. */
export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

/**
 * A variable listing the values of one label (named like the variable) of `metric` in the selected
 * namespace; multi-value, with an All that matches every value (`.*`, so values that appear later,
 * and the `other` series of capped labels, are included).
 */
export interface LabelVariable {
  name: string;
  label: string;
  metric: string;
}

/** A whole dashboard; `uid` is also its file name. */
export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  /** Variables after datasource, namespace and pod. */
  variables?: LabelVariable[];
  rows: RowSpec[];
}

/** Shorthand for a query. */
export const q = (expr: string, legend: string): Query => ({ expr, legend });

/** Shorthand for a time-series panel. */
export function panel(title: string, unit: string, description: string, queries: Query[], extra: Partial<PanelSpec> = {}): PanelSpec {
  return { title, unit, description, queries, ...extra };
}

/** Shorthand for a stat panel. */
export function stat(title: string, unit: string, description: string, query: Query, extra: Partial<PanelSpec> = {}): PanelSpec {
  return { title, unit, description, queries: [query], kind: 'stat', ...extra };
}

/** Shorthand for a bar panel of instant queries. */
export function bars(title: string, unit: string, description: string, queries: Query[], extra: Partial<PanelSpec> = {}): PanelSpec {
  return { title, unit, description, queries, kind: 'bars', ...extra };
}

/** `rate(<metric>{SEL[, matchers]}[$__rate_interval])`. */
export function rate(metric: string, matchers = ''): string {
  return `rate(${metric}{${SEL}${matchers ? `, ${matchers}` : ''}}[$__rate_interval])`;
}

/** p50/p95/p99 queries of a histogram, summed over everything but `by`. */
export function quantiles(histogram: string, by: string[] = [], matchers = ''): Query[] {
  const group = ['le', ...by].join(', ');
  const suffix = by.map((l) => ` {{${l}}}`).join('');
  return [0.5, 0.95, 0.99].map((quantile) =>
    q(`histogram_quantile(${quantile}, sum by (${group}) (${rate(`${histogram}_bucket`, matchers)}))`, `p${Math.round(quantile * 100)}${suffix}`),
  );
}

function target(query: Query, index: number, instant = false): DataqueryBuilder {
  const built = new DataqueryBuilder()
    .expr(query.expr)
    .legendFormat(query.legend)
    .refId(String.fromCharCode(65 + index))
    .datasource(DATASOURCE);
  return instant ? built.instant() : built;
}

function buildPanel(spec: PanelSpec): TimeseriesPanelBuilder | StatPanelBuilder | BarGaugePanelBuilder {
  if (spec.kind === 'bars') {
    const built = new BarGaugePanelBuilder()
      .title(spec.title)
      .description(spec.description)
      .datasource(DATASOURCE)
      .unit(spec.unit)
      .span(spec.width ?? 6)
      .height(8)
      .orientation(VizOrientation.Horizontal)
      .displayMode(BarGaugeDisplayMode.Gradient)
      .namePlacement(BarGaugeNamePlacement.Top)
      .showUnfilled(true)
      .min(spec.min ?? 0)
      .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
    if (spec.max !== undefined) built.max(spec.max);
    spec.queries.forEach((query, i) => built.withTarget(target(query, i, true)));
    return built;
  }
  if (spec.kind === 'stat') {
    const built = new StatPanelBuilder()
      .title(spec.title)
      .description(spec.description)
      .datasource(DATASOURCE)
      .unit(spec.unit)
      .span(spec.width ?? 6)
      .height(5)
      .graphMode(BigValueGraphMode.Area)
      .colorMode(BigValueColorMode.Value)
      .reduceOptions(new ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
    spec.queries.forEach((query, i) => built.withTarget(target(query, i)));
    return built;
  }
  const built = new TimeseriesPanelBuilder()
    .title(spec.title)
    .description(spec.description)
    .datasource(DATASOURCE)
    .unit(spec.unit)
    .span(spec.width ?? 12)
    .height(8)
    .fillOpacity(spec.stacked ? 30 : 10)
    .legend(new VizLegendOptionsBuilder().showLegend(true).displayMode(LegendDisplayMode.List).placement(LegendPlacement.Bottom).calcs([]));
  if (spec.min !== undefined) built.min(spec.min);
  if (spec.max !== undefined) built.max(spec.max);
  if (spec.stacked) built.stacking(new StackingConfigBuilder().mode(StackingMode.Normal));
  spec.queries.forEach((query, i) => built.withTarget(target(query, i)));
  return built;
}

/** The dashboard JSON (plain model, as the Grafana sidecar and file provisioning load it). */
export function buildDashboard(spec: DashboardSpec): Dashboard {
  const builder = new DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['kiro-gateway'])
    .editable()
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .timezone('browser')
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(new DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'))
    .withVariable(
      new QueryVariableBuilder('namespace')
        .label('Namespace')
        .datasource(DATASOURCE)
        .query(`label_values(${VARIABLE_SOURCE}, namespace)`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc),
    )
    .withVariable(
      new QueryVariableBuilder('pod')
        .label('Pod')
        .datasource(DATASOURCE)
        .query(`label_values(${VARIABLE_SOURCE}{namespace=~"$namespace"}, pod)`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true),
    );
  for (const v of spec.variables ?? []) {
    builder.withVariable(
      new QueryVariableBuilder(v.name)
        .label(v.label)
        .datasource(DATASOURCE)
        .query(`label_values(${v.metric}{namespace=~"$namespace"}, ${v.name})`)
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .sort(VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    );
  }
  for (const row of spec.rows) {
    builder.withRow(new RowBuilder(row.title));
    for (const p of row.panels) builder.withPanel(buildPanel(p));
  }
  const dashboard = builder.build();
  // Stable, unique panel ids (the SDK leaves them unset); Grafana links and alerts refer to them.
  let id = 1;
  for (const p of dashboard.panels ?? []) (p as { id?: number }).id = id++;
  return dashboard;
}
