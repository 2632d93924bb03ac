/**
 * The mock upstream in a process of its own, for the side-by-side bench: every gateway measured
 * (and the direct client) reaches this one server, and none of them shares its event loop.
 * Prints its URL on stdout once listening.
 */
import { MOCK_UPSTREAM_KEY } from '../../infra/local/mock-models.js';
import { startMockUpstream } from '../../infra/local/mock-upstream.js';

const mock = await startMockUpstream({ host: '127.0.0.1', apiKey: MOCK_UPSTREAM_KEY });
process.stdout.write(`${mock.url}\n`);
process.on('SIGTERM', () => void mock.close().then(() => process.exit(0)));
