/**
 * The Tollgate console: a static single-page app over Tollgate's admin API. Hash routes
 * (`#/teams/t-1`), so any host serving the files at `/ui/` serves every page.
 */
import type { ComponentChildren } from 'preact';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { asApiError, get } from './api';
import { Form } from './components';
import { Audit } from './pages/audit';
import { Budgets } from './pages/budgets';
import { EndUsers } from './pages/end-users';
import { Keys } from './pages/keys';
import { ModelDetail, Models } from './pages/models';
import { Organizations } from './pages/organizations';
import { Overview } from './pages/overview';
import { Spend } from './pages/spend';
import { TeamDetail, Teams } from './pages/teams';
import { UserDetail, Users } from './pages/users';
import { credential, forgetCredential, rememberCredential } from './session';
import { completeSignIn, isSignInReturn, loadSso, type Sso, startSignIn } from './sso';
import './styles.css';
import type { Key, UserInfo } from './types';

interface Identity {
  label: string;
  detail: string;
}

/** Who the credential is, as the API tells it: its own key, its own user, or neither (master key, admin token). */
async function whoAmI(): Promise<Identity> {
  const refusedOnly = (e: unknown) => {
    const err = asApiError(e);
    if (err.status === 401 || err.status === 0) throw err;
    return undefined;
  };
  const key = await get<{ info: Key }>('/key/info').catch(refusedOnly);
  const user = await get<UserInfo>('/user/info').catch(refusedOnly);
  const detail = [user?.user_info.user_role, key?.info.team_id ? `team ${key.info.team_id}` : ''].filter(Boolean).join(', ');
  if (key) return { label: `key ${key.info.key_name}${user ? ` of user ${user.user_id}` : ''}`, detail };
  if (user) return { label: `user ${user.user_id}`, detail };
  return { label: 'a credential with no key or user of its own', detail: 'the master key or a token' };
}

type Page = (props: { params: string[] }) => ComponentChildren;

const PAGES: readonly (readonly [route: string, title: string, page: Page, detail?: Page])[] = [
  ['overview', 'Overview', Overview],
  ['teams', 'Teams', Teams, ({ params }) => <TeamDetail teamId={params[0] as string} />],
  ['keys', 'Keys', Keys],
  ['users', 'Users', Users, ({ params }) => <UserDetail userId={params[0] as string} />],
  ['organizations', 'Organizations', Organizations],
  ['end-users', 'End users', EndUsers],
  ['budgets', 'Budgets', Budgets],
  ['models', 'Models', Models, ({ params }) => <ModelDetail modelName={params[0] as string} />],
  ['spend', 'Spend', Spend],
  ['audit', 'Audit log', Audit],
];

function currentRoute(): string[] {
  const path = location.hash.replace(/^#\/?/, '');
  return path ? path.split('/').map((s) => decodeURIComponent(s)) : ['overview'];
}

function useRoute(): string[] {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const onChange = () => setRoute(currentRoute());
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function SingleSignOn({ sso, problem }: { sso: Sso | null | undefined; problem: string | undefined }) {
  const [busy, setBusy] = useState(false);
  return (
    <section aria-labelledby="sso-title">
      <h2 id="sso-title">Single sign-on</h2>
      {problem ? (
        <p role="alert" class="notice error">
          {problem}
        </p>
      ) : null}
      {sso ? (
        <button
          type="button"
          id="sso"
          disabled={busy}
          onClick={() => {
            setBusy(true);
            void startSignIn(sso);
          }}
        >
          Sign in with {new URL(sso.settings.issuer).host}
        </button>
      ) : sso === null ? (
        <p class="muted">Single sign-on is not set up for this console: paste a token your identity provider issued.</p>
      ) : (
        <p class="muted">Looking for single sign-on…</p>
      )}
    </section>
  );
}

function SignIn({
  onSignedIn,
  sso,
  problem,
}: {
  onSignedIn(who: Identity): void;
  sso: Sso | null | undefined;
  problem: string | undefined;
}) {
  return (
    <main id="main" class="signin">
      <h1>Tollgate console</h1>
      <p>
        Sign in with what you would send to the API: the master key, a virtual key (<code>sk-…</code>) or a bearer JWT.
      </p>
      <Form
        id="signin"
        title="Sign in"
        submitLabel="Sign in"
        mode="filter"
        fields={[
          {
            name: 'credential',
            label: 'Master key, virtual key or JWT',
            kind: 'password',
            hint: "Kept in this tab's session storage only, and sent only to this Tollgate's own API.",
          },
        ]}
        onSubmit={async (body) => {
          rememberCredential(String(body.credential ?? ''));
          try {
            onSignedIn(await whoAmI());
            return 'Signed in.';
          } catch (e) {
            forgetCredential();
            const err = asApiError(e);
            // The credential is the form's only field: the API's refusal belongs next to it.
            err.body.param = 'credential';
            throw err;
          }
        }}
      />
      <SingleSignOn sso={sso} problem={problem} />
    </main>
  );
}

function App() {
  const [who, setWho] = useState<Identity | null | undefined>(undefined);
  const route = useRoute();
  const [section = 'overview', ...params] = route;
  const entry = PAGES.find(([r]) => r === section) ?? PAGES[0];
  const [, title, Listing, Detail] = entry as (typeof PAGES)[number];

  const [sso, setSso] = useState<Sso | null | undefined>(undefined);
  const [ssoProblem, setSsoProblem] = useState<string | undefined>(undefined);

  // A return from the identity provider completes its sign-in; a tab that still holds a
  // credential (a reload) signs itself back in.
  useEffect(() => {
    const found = loadSso().catch(() => null);
    void found.then(setSso);
    const returning = isSignInReturn();
    const signIn = async () => {
      if (returning) await completeSignIn(await found);
      if (!credential()) return setWho(null);
      setWho(await whoAmI());
    };
    signIn().catch((e: unknown) => {
      forgetCredential();
      // A failed return from the identity provider says why; a stale credential just signs out.
      if (returning) setSsoProblem(asApiError(e).message);
      setWho(null);
    });
  }, []);

  useEffect(() => {
    document.title = `${title} · Tollgate console`;
    document.getElementById('page-title')?.focus();
  }, [route.join('/'), who === undefined]);

  if (who === undefined) return <p class="muted">Loading…</p>;
  if (who === null) return <SignIn onSignedIn={setWho} sso={sso} problem={ssoProblem} />;

  const signOut = () => {
    forgetCredential();
    setWho(null);
  };
  const Page = params.length > 0 && Detail ? Detail : Listing;
  return (
    <>
      {/* A button, not a #main link: the hash is the router's. */}
      <button type="button" class="skip" onClick={() => document.getElementById('page-title')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">Tollgate</span>
        <span class="who">
          Signed in as {who.label}
          {who.detail ? <span class="muted"> ({who.detail})</span> : null}
        </span>
        <button type="button" class="secondary" onClick={signOut}>
          Sign out
        </button>
      </header>
      <nav aria-label="Pages" class="nav">
        <ul>
          {PAGES.map(([r, t]) => (
            <li>
              <a href={`#/${r}`} aria-current={r === section ? 'page' : undefined}>
                {t}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main">
        <Page params={params} />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app') as HTMLElement);
