// Signing in to the stack's user pool through its managed login: the authorization code flow
// with PKCE (RFC 7636), as a public client. The page never sees a password: the fan types it
// on the user pool's own page, which sends the browser back here with a one-time code that
// only this page's verifier can redeem.
//
// What is kept where: the verifier and the request's state in sessionStorage, across the
// redirect only (removed on the way back); the refresh token and the ID token in this module's
// memory only, never in storage (a reload signs in again, at once while the managed login's own
// session lasts). The ID token is renewed with the refresh token before it expires.

const PENDING_KEY = "tickets.signIn";
// The ID token is renewed when this much of its life is left, or at half its life when that
// is shorter: Cognito's ID tokens live 60 minutes here (the template's IdTokenValidity).
export const RENEW_BEFORE_MS = 5 * 60 * 1000;
// A renewal that fails is tried again this often while the ID token still has this long left.
const RETRY_RENEWAL_MS = 10 * 1000;

const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
const randomString = (bytes) => base64url(crypto.getRandomValues(new Uint8Array(bytes)));

/** This page's address, as the user pool's app client lists it (CallbackURLs). */
export const redirectUri = () => location.origin + location.pathname;

/** Sends the browser to the managed login, with a fresh verifier's challenge. */
export async function startSignIn(config) {
  const verifier = randomString(48); // 64 characters, within PKCE's 43 to 128
  const state = randomString(16);
  sessionStorage.setItem(PENDING_KEY, JSON.stringify({ verifier, state }));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: config.userPoolClientId,
    redirect_uri: redirectUri(),
    scope: "openid email",
    state,
    code_challenge: base64url(digest),
    code_challenge_method: "S256",
  });
  location.assign(`${config.authDomain}/oauth2/authorize?${query}`);
}

/** The session the managed login sent the browser back with (`?code=…&state=…`), or null when
 * this address carries no answer. The code leaves the address bar and history at once. */
export async function finishSignIn(config) {
  const answer = new URLSearchParams(location.search);
  const code = answer.get("code");
  const error = answer.get("error");
  if (!code && !error) return null;
  history.replaceState(null, "", redirectUri());
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) || "null");
  sessionStorage.removeItem(PENDING_KEY);
  if (error) throw new Error(answer.get("error_description") || error);
  if (!pending || pending.state !== answer.get("state")) {
    throw new Error("the sign-in answer is not for this page's request: sign in again");
  }
  const tokens = await tokenRequest(config, {
    grant_type: "authorization_code",
    code,
    redirect_uri: redirectUri(),
    code_verifier: pending.verifier,
  });
  if (!tokens.refresh_token) throw new Error("the user pool gave no refresh token");
  return new Session(config, tokens);
}

/** Ends the managed login's own session too, then comes back to this page. */
export function signOutOfUserPool(config) {
  const query = new URLSearchParams({ client_id: config.userPoolClientId, logout_uri: redirectUri() });
  location.assign(`${config.authDomain}/logout?${query}`);
}

async function tokenRequest(config, fields) {
  const answer = await fetch(`${config.authDomain}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: config.userPoolClientId, ...fields }).toString(),
  });
  const body = await answer.json().catch(() => ({}));
  if (!answer.ok) throw new Error(body.error_description || body.error || `the token endpoint answered ${answer.status}`);
  return body;
}

/** The claims of a JWT (read for the name to show; the API verifies it). */
export function claimsOf(token) {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return {};
  }
}

/** A signed-in user: the current ID token, renewed before it expires. `onRenewed(session)`
 * hears each renewal; `onLost(error)` hears that the sign-in ended (renewal refused until the
 * ID token expired). */
export class Session {
  constructor(config, tokens) {
    this.config = config;
    this.refreshToken = tokens.refresh_token;
    this.onRenewed = () => {};
    this.onLost = () => {};
    this.accept(tokens);
  }

  get name() {
    return this.claims.email || this.claims["cognito:username"] || this.claims.sub;
  }

  get groups() {
    return this.claims["cognito:groups"] || [];
  }

  accept(tokens) {
    this.idToken = tokens.id_token;
    this.expiresAt = Date.now() + 1000 * Number(tokens.expires_in || 0);
    this.claims = claimsOf(this.idToken);
    const life = this.expiresAt - Date.now();
    this.wake(Math.max(life - RENEW_BEFORE_MS, life / 2));
  }

  wake(ms) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.renew(), Math.max(0, ms));
  }

  async renew() {
    if (!this.refreshToken) return;
    try {
      this.accept(await tokenRequest(this.config, { grant_type: "refresh_token", refresh_token: this.refreshToken }));
      this.onRenewed(this);
    } catch (error) {
      if (Date.now() + RETRY_RENEWAL_MS < this.expiresAt) this.wake(RETRY_RENEWAL_MS);
      else this.onLost(error);
    }
  }

  end() {
    clearTimeout(this.timer);
    this.refreshToken = null;
    this.idToken = null;
  }
}
