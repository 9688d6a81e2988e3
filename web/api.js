// The API client the fan page and the operator view share: who the caller is, how a request is
// sent and retried (docs/api.md's "Retrying requests"), and what each problem code means to a fan.

/** Where the API is and how fans sign in: the local server's own, or the stack's (written at
 * deploy). `signIn` is "local" (a fan name as X-User-Id), "cognito" (the stack's user pool,
 * through its managed login at `authDomain`: signin.js) or "token" (an ID token from another
 * issuer, pasted). `operatorApiUrl`: the operator page's API (deployed only). */
export async function loadConfig() {
  const answer = await fetch("config.json", { cache: "no-store" });
  if (!answer.ok) throw new Error(`config.json: ${answer.status}`);
  const config = await answer.json();
  return { ...config, apiUrl: (config.apiUrl || "").replace(/\/$/, ""), signIn: config.signIn || "local" };
}

/** A refusal the API answered (problem+json), or no answer at all (`status` 0). */
export class Problem extends Error {
  constructor(body, status) {
    super(body.detail || body.code || `HTTP ${status}`);
    this.body = body;
    this.status = status;
    this.code = body.code || (status === 401 ? "UNAUTHENTICATED" : "HTTP_" + status);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const jitter = (ms) => ms + Math.random() * Math.min(ms, 500);
// A transport error or timeout: 0.25 s, 0.5 s, 1 s, then every 2 s.
const BACKOFF_MS = [250, 500, 1000];
const ATTEMPT_TIMEOUT_MS = 10000;
// How long one request keeps retrying before the page says the service is not answering.
const GIVE_UP_AFTER_MS = 60000;

/** A fresh Idempotency-Key: one per hold, top-up or payment, reused on its every retry. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Api {
  /** `identity()` gives the headers naming the caller; `onRetry(reason)` hears each retry. */
  constructor(config, identity, onRetry = () => {}) {
    this.base = config.apiUrl;
    this.identity = identity;
    this.onRetry = onRetry;
  }

  get(path, options = {}) {
    return this.send("GET", path, options);
  }

  post(path, body, options = {}) {
    return this.send("POST", path, { ...options, body });
  }

  /** Sends the request once, in a fetch that outlives the page (`keepalive`), as the page
   * goes: nobody is left to read the answer, or to retry. */
  sendAsThePageGoes(method, path) {
    fetch(this.base + path, { method, headers: this.headers(), keepalive: true, cache: "no-store" }).catch(() => {});
  }

  /** A request's headers: who calls, and what the request carries. */
  headers({ body, token, idempotencyKey } = {}) {
    const headers = { Accept: "application/json", ...this.identity() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers["X-Queue-Token"] = token;
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    return headers;
  }

  /** Sends the request, and the same request again only on a 503 or a throttling 429 (the
   * fan's `RATE_LIMITED`, or API Gateway's own body), after Retry-After; a transport error or
   * timeout (backing off); or `409 IDEMPOTENCY_KEY_IN_USE` (after Retry-After, or a second).
   * Resolves with the JSON body of a 2xx; rejects with a Problem for any other answer. */
  async send(method, path, { body, token, idempotencyKey } = {}) {
    const headers = this.headers({ body, token, idempotencyKey });
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      let wait;
      let reason;
      try {
        const answer = await fetchWithTimeout(this.base + path, { method, headers, body: payload });
        const parsed = await readBody(answer);
        if (answer.ok) return parsed;
        const problem = new Problem(parsed || {}, answer.status);
        const retryAfter = 1000 * (Number(answer.headers.get("Retry-After")) || 1);
        // A 429 that is a limit of the fan's own (holds a visit, top-ups a day) is no wait.
        const gateway = !(parsed && parsed.code);
        const throttled = answer.status === 429 && (gateway || problem.code === "RATE_LIMITED");
        if (answer.status === 503 || throttled) {
          wait = jitter(retryAfter);
          reason = throttled ? "RATE_LIMITED" : problem.code;
        } else if (problem.code === "IDEMPOTENCY_KEY_IN_USE" && idempotencyKey) {
          wait = jitter(retryAfter);
          reason = problem.code;
        } else {
          throw problem;
        }
        // A wait past the page's patience: say what the service said.
        if (Date.now() + wait - started > GIVE_UP_AFTER_MS) throw problem;
      } catch (error) {
        if (error instanceof Problem) throw error;
        // No answer: the request may or may not have been applied; the same request is safe.
        wait = jitter(BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length)] || 2000);
        reason = "NO_ANSWER";
      }
      if (Date.now() + wait - started > GIVE_UP_AFTER_MS) {
        throw new Problem({ code: "NO_ANSWER" }, 0);
      }
      this.onRetry(reason);
      await sleep(wait);
    }
  }
}

async function fetchWithTimeout(url, init) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), ATTEMPT_TIMEOUT_MS);
  try {
    return await fetch(url, { ...init, signal: abort.signal, cache: "no-store" });
  } finally {
    clearTimeout(timer);
  }
}

async function readBody(answer) {
  const text = await answer.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text };
  }
}

// ------------------------------------------------------------------ words for fans

export const won = (amount) => "₩" + Number(amount).toLocaleString("en-US");

export function duration(seconds) {
  seconds = Math.max(0, Math.round(seconds));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

export const clock = (seconds) => {
  seconds = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
};

export const localTime = (iso) =>
  new Date(iso).toLocaleString("en-GB", { dateStyle: "medium", timeStyle: "short" });

const list = (numbers) => (numbers || []).join(", ");

/** Every problem code the API answers, as a sentence a fan (or an operator) understands. */
const SENTENCES = {
  UNAUTHENTICATED: () => "Please sign in again.",
  INVALID_REQUEST: () => "The page sent a request the service could not read. Reload the page and try again.",
  MALFORMED_JSON: () => "The page sent a request the service could not read. Reload the page and try again.",
  UNKNOWN_FIELD: () => "The page sent a field the service does not know. Reload the page and try again.",
  PAYLOAD_TOO_LARGE: () => "That request was too large to send.",
  INVALID_CONCERT_ID: () => "There is no such concert.",
  INVALID_DATE: () => "That is not a date of this concert.",
  INVALID_SEAT_NUMBER: () => "That is not a seat of this venue.",
  INVALID_SEATS: () => "Choose between one seat and your ticket limit, all on one date.",
  INVALID_AMOUNT: () => "Top up between ₩1 and ₩10,000,000 at a time.",
  INVALID_RESERVATION_ID: () => "That reservation does not exist.",
  INVALID_PAYMENT_ID: () => "That receipt does not exist.",
  INVALID_IDEMPOTENCY_KEY: () => "The page sent a bad request key. Reload the page and try again.",
  // A listing's cursor or page size (reservations, history, seats): the page asked for it.
  INVALID_CURSOR: () => "That page is gone. Start again from the first page.",
  INVALID_LIMIT: () => "The page asked for too many entries at once. Reload the page and try again.",
  ROUTE_NOT_FOUND: () => "The service does not offer that.",
  METHOD_NOT_ALLOWED: () => "The service does not offer that.",
  QUEUE_TOKEN_REQUIRED: () => "Join the queue first.",
  QUEUE_TOKEN_INVALID: () => "This place in the queue is not yours any more. Join the queue again.",
  QUEUE_TOKEN_EXPIRED: () =>
    "Your time in the queue has ended (it lapsed, was used by a payment, or the concert sold out). Join the queue again.",
  QUEUE_TOKEN_IDLE: () =>
    "Your turn to buy ended because the page sent nothing for a while, and your place went to the fans waiting. Join the queue again: you start at the back of the line.",
  QUEUE_NOT_ADMITTED: (p) =>
    p.position == null
      ? "You are still waiting: the order is drawn when the sale opens."
      : `You are still waiting: number ${p.position} in line.`,
  QUEUE_TOKEN_WRONG_CONCERT: () => "This place in the queue is for another concert.",
  QUEUE_NOT_OPEN: (p) => `The queue is not open yet. It opens ${localTime(p.queueOpensAt)}.`,
  SOLD_OUT: () => "This concert is sold out.",
  INVALID_PAUSED: () => "Pause must be on or off.",
  INVALID_ADMIT_PER_TICK: () => "Admit between 1 and 10,000 fans a tick.",
  INVALID_MAX_ACTIVE: () => "Allow between 1 and 100,000 active fans.",
  INVALID_MAX_HOLDS_PER_SESSION: () => "Allow between 1 and 100 holds a session.",
  INVALID_CATALOG: (p) => `The concert is not valid: ${p.detail}`,
  OPERATOR_REQUIRED: () => "Only an operator may do this: enter your operator name.",
  NOT_AN_OPERATOR: () => "You are signed in, but not as an operator: ask for a place in the operators group.",
  // The page called the API around its edge: its config.json names the wrong URL.
  EDGE_REQUIRED: () => "The page is set up with the wrong address for the service. Reload the page; if it stays, tell the organiser.",
  CONCERT_EXISTS: () => "A concert with this id already exists.",
  CONCERT_NOT_FOUND: () => "There is no such concert.",
  DATE_NOT_FOUND: () => "This date is not on sale.",
  SEAT_NOT_FOUND: () => "This venue has no such seat.",
  SECTION_NOT_FOUND: () => "This venue has no such section.",
  SECTION_REQUIRED: () => "This venue is large: pick a section first.",
  SEAT_UNAVAILABLE: (p) =>
    p.unavailableSeats
      ? `Someone else got there first: seat${p.unavailableSeats.length > 1 ? "s" : ""} ${list(p.unavailableSeats)} ${p.unavailableSeats.length > 1 ? "are" : "is"} taken. Pick other seats.`
      : "Not enough seats are free together there. Try fewer seats or another section.",
  TICKET_LIMIT_REACHED: (p) =>
    `You may have ${p.limit} tickets for this concert: you hold ${p.held} and bought ${p.bought}. Hold fewer seats.`,
  TOO_MANY_HOLDS: (p) =>
    `You have placed ${p.limit} holds in this visit, the most allowed. Join the queue again to hold more.`,
  RESERVATION_NOT_FOUND: () => "That hold does not exist any more.",
  RESERVATION_EXPIRED: () => "Your hold ran out of time and the seats went back on sale. Pick seats again.",
  RESERVATION_RELEASED: () => "You released this hold; pick seats again.",
  ALREADY_PAID: () => "This hold is already paid for.",
  PAYMENT_NOT_FOUND: () => "That receipt does not exist.",
  BALANCE_LIMIT_EXCEEDED: () => "That top-up would take your balance over ₩1,000,000,000.",
  INSUFFICIENT_BALANCE: () => "Your balance is too low for these seats. Top up, then pay.",
  TOP_UP_NOT_FOUND: () => "That top-up does not exist.",
  TOO_MANY_TOPUPS: (p) => `You have started ${p.limit} top-ups today, the most allowed. Try again tomorrow.`,
  INVALID_SIGNATURE: () => "That payment notice could not be verified.",
  IDEMPOTENCY_KEY_REUSED: () => "The page reused a request key. Reload the page and try again.",
  IDEMPOTENCY_KEY_IN_USE: () => "Your last request is still being processed. Wait a moment.",
  RATE_LIMITED: () => "You are sending requests faster than the service allows. Wait a moment, then try again.",
  SERVICE_BUSY: () => "The service is very busy. Please try again in a moment.",
  SERVICE_UNAVAILABLE: () => "The service is not answering right now. Please try again in a moment.",
  INTERNAL_ERROR: () => "Something went wrong on our side. Please try again.",
  NO_ANSWER: () => "The service is not answering. Check your connection and try again.",
};

export function sentence(error) {
  if (!(error instanceof Problem)) return `Something went wrong in the page: ${error.message}`;
  const say = SENTENCES[error.code];
  if (say) return say(error.body);
  // API Gateway's own answers carry no code: its 401 (an expired sign-in) and 429 (throttled).
  if (error.status === 401) return SENTENCES.UNAUTHENTICATED();
  if (error.status === 429) return SENTENCES.RATE_LIMITED();
  return `The service refused: ${error.message}`;
}

// ------------------------------------------------------------------ what both pages show

/** Shows `text` in the page's #notice; an empty text hides it. */
export function say(text) {
  const notice = document.querySelector("#notice");
  notice.textContent = text;
  notice.hidden = !text;
}

let retryShown;
/** Both pages' `onRetry`: a line in #retrying, for a few seconds, saying why the page waits. */
export function showRetry(reason) {
  const line = document.querySelector("#retrying");
  line.textContent =
    reason === "NO_ANSWER" ? "No answer from the service; trying again…" : "The service is busy; trying again…";
  line.hidden = false;
  clearTimeout(retryShown);
  retryShown = setTimeout(() => (line.hidden = true), 4000);
}
