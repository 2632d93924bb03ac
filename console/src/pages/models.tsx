/**
 * The model registry: what this credential may use (everything, with upstreams, for a proxy
 * admin); add, edit, delete. One model: where it points, every price /model/info reports and
 * whether the price library or an admin set them, and its editor.
 */
import { get, post } from '../api';
import { EditForm, type Field, Form, Loading, Section, Table, Title, useAction, useLoad } from '../components';
import { count, list, price } from '../format';
import { ConfirmButton, RecordTable } from '../lists';
import type { ModelEntry, PriceTier } from '../types';

const CACHE_PRICES = 'Cache, media and tool prices';
const TIER_PRICES = 'Service-tier prices';
const KEPT = 'Once set, it can be changed, not removed.';

/** Every price `/model/new` and `/model/update` take, as the form edits them (per 1M tokens unless named otherwise). */
const PRICE_FIELDS: Field[] = [
  {
    name: 'model_info.input_cost_per_million',
    label: 'Input price per 1M tokens (USD)',
    kind: 'number',
    hint: "Empty: the price library's, when it knows the upstream model (emptied on an edit: back to the library's).",
  },
  {
    name: 'model_info.output_cost_per_million',
    label: 'Output price per 1M tokens (USD)',
    kind: 'number',
    hint: "Empty: the price library's, when it knows the upstream model (emptied on an edit: back to the library's).",
  },
  {
    name: 'model_info.cache_read_cost_per_million',
    label: 'Cache read per 1M tokens (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Empty: cached input costs the input price. ${KEPT}`,
  },
  {
    name: 'model_info.cache_write_cost_per_million',
    label: 'Cache write per 1M tokens (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Empty: cache writes cost the input price. ${KEPT}`,
  },
  {
    name: 'model_info.cache_write_1h_cost_per_million',
    label: '1-hour cache write per 1M tokens (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Anthropic's 1-hour cache writes; empty: the cache write price. ${KEPT}`,
  },
  {
    name: 'model_info.input_audio_cost_per_million',
    label: 'Audio input per 1M tokens (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Audio models and transcription; empty: audio costs the input price. ${KEPT}`,
  },
  {
    name: 'model_info.output_audio_cost_per_million',
    label: 'Audio output per 1M tokens (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Empty: audio costs the output price. ${KEPT}`,
  },
  {
    name: 'model_info.input_image_cost_per_million',
    label: 'Image input per 1M tokens (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Images sent to an image model (gpt-image edits); empty: images cost the input price. ${KEPT}`,
  },
  {
    name: 'model_info.output_image_cost_per_million',
    label: 'Image output per 1M tokens (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Images a model makes; empty: images cost the output price. ${KEPT}`,
  },
  {
    name: 'model_info.cache_read_image_cost_per_million',
    label: 'Cached image input per 1M tokens (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Images read from the cache; empty: the cache read price. ${KEPT}`,
  },
  {
    name: 'model_info.search_context_cost_per_query',
    label: 'Per web search (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Dollars for each server-side web search. ${KEPT}`,
  },
  {
    name: 'model_info.file_search_cost_per_1k_calls',
    label: 'Per 1,000 file search calls (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Dollars for 1,000 calls of the Responses API's file_search tool. ${KEPT}`,
  },
  {
    name: 'model_info.code_interpreter_cost_per_session',
    label: 'Per code interpreter session (USD)',
    kind: 'number',
    group: CACHE_PRICES,
    hint: `Dollars for each 1 GB container the Responses API's code_interpreter tool makes (a 4 GB one costs 4). ${KEPT}`,
  },
  ...(['priority', 'flex'] as const).flatMap((tier): Field[] => [
    { name: `model_info.input_cost_per_million_${tier}`, label: `Input per 1M tokens, ${tier} (USD)`, kind: 'number', group: TIER_PRICES },
    {
      name: `model_info.output_cost_per_million_${tier}`,
      label: `Output per 1M tokens, ${tier} (USD)`,
      kind: 'number',
      group: TIER_PRICES,
      hint: `Goes with the ${tier} input price: a tier is priced by both.`,
    },
    {
      name: `model_info.cache_read_cost_per_million_${tier}`,
      label: `Cache read per 1M tokens, ${tier} (USD)`,
      kind: 'number',
      group: TIER_PRICES,
    },
  ]),
];

/** Fields /model/update takes a new value for but cannot empty: every price but the input and output price. */
const keptOnceSet = (fields: Field[]): Field[] => fields.map((f) => (f.group ? { ...f, kept: true } : f));

const modelFields: Field[] = [
  { name: 'litellm_params.model', label: 'Upstream model' },
  {
    name: 'litellm_params.api_base',
    label: 'Upstream base URL',
    hint: "Empty: the provider's default (https://api.openai.com/v1 for an OpenAI model).",
  },
  {
    name: 'litellm_params.api_key_secret',
    label: 'Upstream key secret',
    hint: 'The name of the secret holding the upstream key, never the key itself.',
  },
  ...PRICE_FIELDS.filter((f) => !f.group),
  { name: 'model_info.access_groups', label: 'Access groups', kind: 'list' },
  { name: 'model_info.aliases', label: 'Aliases', kind: 'list' },
  ...keptOnceSet(PRICE_FIELDS.filter((f) => f.group)),
];

/** A model as its form starts: the per-search price as the one number it is stored as. */
const formView = (m: ModelEntry) => ({
  ...m,
  model_info: { ...m.model_info, search_context_cost_per_query: m.model_info.search_context_cost_per_query?.search_context_size_medium },
});

const saveModel = (body: Record<string, unknown>) => post('/model/update', body);

const modelHref = (name: string) => `#/models/${encodeURIComponent(name)}`;

export function Models() {
  const models = useLoad(() => get<{ data: ModelEntry[] }>('/model/info'), []);
  const act = useAction();
  return (
    <>
      <Title>Models</Title>
      <Section id="model-list" title="Models you may use">
        {act.view}
        <Loading state={models} what="models">
          {(answer) => (
            <RecordTable
              caption="Models"
              rows={answer.data}
              rowKey={(m) => m.model_name}
              empty="No models."
              columns={[
                { header: 'Model', cell: (m) => <a href={modelHref(m.model_name)}>{m.model_name}</a> },
                { header: 'Upstream model', cell: (m) => m.litellm_params.model },
                { header: 'Upstream', cell: (m) => m.litellm_params.api_base ?? '—' },
                { header: 'Input / 1M tokens', cell: (m) => price(m.model_info.input_cost_per_million), numeric: true },
                { header: 'Output / 1M tokens', cell: (m) => price(m.model_info.output_cost_per_million), numeric: true },
                { header: 'Access groups', cell: (m) => list(m.model_info.access_groups, '—') },
                { header: 'Aliases', cell: (m) => list(m.model_info.aliases, '—') },
              ]}
              noun="model"
              name={(m) => m.model_name}
              busy={act.busy}
              edit={{
                id: 'edit-model',
                fields: modelFields,
                fixed: (m) => ({ model_name: m.model_name }),
                initial: formView,
                save: (body) => saveModel(body).then(models.reload),
              }}
              remove={{
                run: (m) =>
                  act.run(() => post('/model/delete', { model_name: m.model_name }), `Model ${m.model_name} deleted.`).then(models.reload),
              }}
            />
          )}
        </Loading>
      </Section>
      <Section id="model-new" title="Add a model">
        <Form
          id="new-model"
          title="New model"
          submitLabel="Add model"
          fields={[{ name: 'model_name', label: 'Model name', hint: 'The name callers send.' }, ...modelFields]}
          onSubmit={async (body) => {
            await post('/model/new', body);
            models.reload();
            return `Model ${String(body.model_name ?? '')} added.`;
          }}
        />
      </Section>
    </>
  );
}

/** Where a model's prices come from, as /model/info says it (one source a model, not one a price). */
function priceSource(m: ModelEntry): string {
  const { price_source: source, price_source_version: version } = m.model_info;
  if (source === 'registry') return 'set by an admin (the input and output prices were given)';
  const library = version ? source.slice(0, source.length - version.length - 1) : source;
  return `the price library ${library}${version ? ` ${version}` : ''}, except the prices an admin set`;
}

const LIBRARY_TIER_COLUMNS = [
  ['input_cost_per_million', 'Input / 1M'],
  ['output_cost_per_million', 'Output / 1M'],
  ['cache_read_cost_per_million', 'Cache read / 1M'],
  ['cache_write_cost_per_million', 'Cache write / 1M'],
  ['cache_write_1h_cost_per_million', '1-hour cache write / 1M'],
] as const;

export function ModelDetail({ modelName }: { modelName: string }) {
  const info = useLoad(() => get<{ data: ModelEntry[] }>('/model/info', { model_name: modelName }), [modelName]);
  const act = useAction();
  return (
    <>
      <Title>Model {modelName}</Title>
      <p>
        <a href="#/models">All models</a>
      </p>
      {act.view}
      <Loading state={info} what={`model ${modelName}`}>
        {(answer) => {
          const m = answer.data[0];
          if (!m) return <p class="muted">No model {modelName}.</p>;
          const view = formView(m);
          const prices = view.model_info as unknown as Record<string, number | null | undefined>;
          return (
            <>
              <Section id="model-summary" title="Summary">
                <dl class="facts">
                  <dt>Upstream model</dt>
                  <dd>{m.litellm_params.model}</dd>
                  <dt>Upstream</dt>
                  <dd>{m.litellm_params.api_base ?? '—'}</dd>
                  <dt>Upstream key secret</dt>
                  <dd>{m.litellm_params.api_key_secret ?? '—'}</dd>
                  <dt>Access groups</dt>
                  <dd>{list(m.model_info.access_groups, '—')}</dd>
                  <dt>Aliases</dt>
                  <dd>{list(m.model_info.aliases, '—')}</dd>
                </dl>
                <div class="actions">
                  <ConfirmButton
                    class="danger"
                    busy={act.busy}
                    question={`Delete model ${modelName}?`}
                    onConfirm={() =>
                      act
                        .run(() => post('/model/delete', { model_name: modelName }), `Model ${modelName} deleted.`)
                        .then((ok) => {
                          if (ok) location.hash = '#/models';
                        })
                    }
                  >
                    Delete model
                  </ConfirmButton>
                </div>
              </Section>
              <Section id="model-prices" title="Prices">
                <p>
                  Prices from <span id="model-price-source">{priceSource(m)}</span>.
                </p>
                <dl class="facts">
                  {PRICE_FIELDS.map((f) => {
                    const [, key] = f.name.split('.') as [string, string];
                    return (
                      <>
                        <dt>{f.label.replace(' (USD)', '')}</dt>
                        <dd>{price(prices[key])}</dd>
                      </>
                    );
                  })}
                </dl>
                {m.model_info.price_tiers?.length ? <LongContextTiers tiers={m.model_info.price_tiers} /> : null}
              </Section>
              <Section id="model-edit" title="Edit">
                <EditForm
                  id="edit-model"
                  noun="model"
                  name={modelName}
                  record={view}
                  fixed={{ model_name: modelName }}
                  fields={modelFields}
                  save={(body) => saveModel(body).then(info.reload)}
                />
              </Section>
            </>
          );
        }}
      </Loading>
    </>
  );
}

/** The price library's long-context tiers (read only: the admin API takes none; an input or output price given drops them). */
const LongContextTiers = ({ tiers }: { tiers: PriceTier[] }) => (
  <>
    <p>From the price library: a call whose input passes a tier's threshold is priced whole at that tier.</p>
    <Table
      caption="Long-context prices (USD)"
      rows={tiers}
      rowKey={(t) => String(t.above_input_tokens)}
      empty="None."
      columns={[
        { header: 'Above input tokens', cell: (t) => count(t.above_input_tokens), numeric: true },
        ...LIBRARY_TIER_COLUMNS.map(([key, header]) => ({ header, cell: (t: PriceTier) => price(t[key]), numeric: true })),
      ]}
    />
  </>
);
