/** The model registry: what this credential may use (everything, with upstreams, for a proxy admin); add, delete. */
import { get, post } from '../api';
import { Form, Loading, Section, Table, Title, useAction, useLoad } from '../components';
import { list, money } from '../format';
import { DeleteButton } from '../lists';
import type { ModelEntry } from '../types';

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
            <Table
              caption="Models"
              rows={answer.data}
              rowKey={(m) => m.model_name}
              empty="No models."
              columns={[
                { header: 'Model', cell: (m) => m.model_name },
                { header: 'Upstream model', cell: (m) => m.litellm_params.model },
                { header: 'Upstream', cell: (m) => m.litellm_params.api_base ?? '—' },
                { header: 'Input / 1M tokens', cell: (m) => money(m.model_info.input_cost_per_million), numeric: true },
                { header: 'Output / 1M tokens', cell: (m) => money(m.model_info.output_cost_per_million), numeric: true },
                { header: 'Access groups', cell: (m) => list(m.model_info.access_groups, '—') },
                { header: 'Aliases', cell: (m) => list(m.model_info.aliases, '—') },
                {
                  header: 'Actions',
                  cell: (m) => (
                    <DeleteButton
                      what={`model ${m.model_name}`}
                      busy={act.busy}
                      onDelete={() =>
                        act
                          .run(() => post('/model/delete', { model_name: m.model_name }), `Model ${m.model_name} deleted.`)
                          .then(models.reload)
                      }
                    />
                  ),
                },
              ]}
            />
          )}
        </Loading>
      </Section>
      <Section id="model-new" title="Add a model">
        <Form
          id="new-model"
          title="New model"
          submitLabel="Add model"
          fields={[
            { name: 'model_name', label: 'Model name', hint: 'The name callers send.' },
            { name: 'litellm_params.model', label: 'Upstream model' },
            { name: 'litellm_params.api_base', label: 'Upstream base URL', hint: 'Empty: https://api.openai.com/v1.' },
            {
              name: 'litellm_params.api_key_secret',
              label: 'Upstream key secret',
              hint: 'The name of the secret holding the upstream key, never the key itself.',
            },
            { name: 'model_info.input_cost_per_million', label: 'Input price per 1M tokens (USD)', kind: 'number' },
            { name: 'model_info.output_cost_per_million', label: 'Output price per 1M tokens (USD)', kind: 'number' },
            { name: 'model_info.access_groups', label: 'Access groups', kind: 'list' },
            { name: 'model_info.aliases', label: 'Aliases', kind: 'list' },
          ]}
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
