/**
 * docs/deploy.md's walkthrough "From `cdk deploy` to a first answer", run against the local
 * gateway command by command. Its AWS side (the deploy, reading the outputs, Secrets Manager) is
 * checked for what it relies on (valid stack options, outputs the stack has, a secret name the
 * llm function may read) and replaced by the local equivalents; every `curl` runs as written in
 * bash with only `API_URL`, the master key, the upstream URL and the secret's value changed; the
 * openai client snippet runs as written under node. The models function's sample event is the
 * walkthrough's Bedrock model.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../../infra/bundling.js';
import { resolveOptions } from '../../../infra/constructs/options.js';
import { type Gateway, startGateway } from '../../../infra/local/gateway.js';
import { type MockBedrock, startMockBedrock } from '../../../infra/local/mock-bedrock.js';
import { MOCK_UPSTREAM_KEY } from '../../../infra/local/mock-models.js';
import { type MockUpstream, startMockUpstream } from '../../../infra/local/mock-upstream.js';
import { useTestTable } from '../../support/table.js';

const run = promisify(execFile);
const MASTER = `sk-master-${randomUUID()}`;
const doc = readFileSync(join(PROJECT_ROOT, 'docs/deploy.md'), 'utf8');
const section = doc.slice(doc.indexOf('### From `cdk deploy` to a first answer'), doc.indexOf('### Options'));

/** The fenced blocks of the walkthrough, by language, each command with its continuation lines joined. */
function blocks(lang: string): string[][] {
  return [...section.matchAll(new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``, 'g'))].map((m) =>
    (m[1] as string)
      .replace(/\\\n\s*/g, '')
      .split('\n')
      .filter((l) => l.trim().length > 0),
  );
}
const commands = blocks('sh').flat();
const aws = (prefix: string) => commands.filter((c) => c.startsWith(prefix));

let bedrock: MockBedrock;
let upstream: MockUpstream;
let gateway: Gateway;

beforeAll(async () => {
  bedrock = await startMockBedrock();
  upstream = await startMockUpstream({ apiKey: MOCK_UPSTREAM_KEY });
  await useTestTable({
    TOLLGATE_MASTER_KEY: MASTER,
    TOLLGATE_BEDROCK_ENDPOINT: bedrock.url,
    // Step 3's secret, as local mode holds secrets.
    TOLLGATE_LOCAL_SECRETS: JSON.stringify({ 'tollgate/upstream/openai': MOCK_UPSTREAM_KEY }),
  });
  gateway = await startGateway({ port: 0 });
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await bedrock?.close();
});

describe('docs/deploy.md: from cdk deploy to a first answer', () => {
  it('the walkthrough is there: deploy with outputs, API URL, master key, a secret, models, chats, a client', () => {
    expect(aws('npx cdk deploy')).toHaveLength(1);
    expect(aws('API_URL=')).toHaveLength(1);
    expect(aws('MASTER_KEY=')).toHaveLength(1);
    expect(aws('aws secretsmanager create-secret')).toHaveLength(1);
    expect(commands.filter((c) => c.startsWith('curl'))).toHaveLength(5);
    expect(blocks('js')).toHaveLength(1);
  });

  it('its AWS side holds: valid stack options, outputs the stack has, a secret the llm function may read', () => {
    const deploy = aws('npx cdk deploy')[0] as string;
    expect(deploy).toContain('--outputs-file outputs.json');
    const context = Object.fromEntries([...deploy.matchAll(/-c (\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    const options = resolveOptions(context);
    expect(options.bedrockModels).toEqual(['anthropic.claude-3-5-sonnet-20240620-v1:0']);
    const stackSource = readFileSync(join(PROJECT_ROOT, 'infra/stack.ts'), 'utf8');
    for (const [, output] of `${aws('API_URL=')[0]} ${aws('MASTER_KEY=')[0]}`.matchAll(/\.Tollgate\.(\w+)/g))
      expect(stackSource).toContain(`new CfnOutput(this, '${output}'`);
    const secret = /--name (\S+)/.exec(aws('aws secretsmanager create-secret')[0] as string)?.[1] as string;
    expect(secret.startsWith(options.upstreamSecretPrefix as string)).toBe(true);
    // The OpenAI model names that secret; the Bedrock model is one the function may invoke.
    expect(section).toContain(`"api_key_secret":"${secret}"`);
    expect(section).toContain(`"model":"bedrock/${options.bedrockModels[0]}"`);
  });

  it('every curl, as written, against the local gateway', async () => {
    const env = { ...process.env, API_URL: `${gateway.url}/`, MASTER_KEY: MASTER };
    const outputs: any[] = [];
    for (const command of commands.filter((c) => c.startsWith('curl'))) {
      // The only change: the OpenAI upstream is the mock's URL.
      const local = command.replace('https://api.openai.com/v1', upstream.url);
      const { stdout } = await run('bash', ['-c', local], { env });
      outputs.push(JSON.parse(stdout));
    }
    const [health, claude, gpt, claudeChat, gptChat] = outputs;
    expect(health).toEqual({ status: 'healthy' });
    expect(claude.model_info).toMatchObject({ input_cost_per_million: 3, output_cost_per_million: 15, litellm_provider: 'bedrock' });
    expect(claude.model_info.price_source).toMatch(/^@pydantic\/genai-prices@/);
    expect(gpt.model_info).toMatchObject({ input_cost_per_million: 0.15, output_cost_per_million: 0.6 });
    expect(claudeChat.choices[0].message.content).toBe('Mock answer: Hello from Bedrock');
    expect(gptChat.choices[0].message.content).toBe('Mock answer: Hello from OpenAI');
    expect(bedrock.requests.at(-1)?.modelId).toBe('anthropic.claude-3-5-sonnet-20240620-v1:0');
    expect(upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${MOCK_UPSTREAM_KEY}`);
  });

  it('the openai client snippet, as written, under node', async () => {
    const code = (blocks('js')[0] as string[]).join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, API_URL: `${gateway.url}/`, MASTER_KEY: MASTER },
    });
    expect(stdout.trim()).toBe('Mock answer: Hello');
  });

  it("the models function's sample event is the walkthrough's Bedrock model", () => {
    const event = JSON.parse(readFileSync(join(PROJECT_ROOT, 'functions/models/events/new.json'), 'utf8'));
    const { action, ...body } = event;
    expect(action).toBe('new');
    expect(section).toContain(`-d '${JSON.stringify(body)}'`);
  });
});
