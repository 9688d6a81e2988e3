// The fan page: sign in, pick a concert, wait in its queue, pick seats, hold, top up, pay.
// One view at a time; every call goes through `api` (retries as docs/api.md says), every
// refusal is shown as a sentence (`sentence`).

import { Api, Problem, loadConfig, newKey, say, showRetry, sentence, won, duration, clock, localTime } from "./api.js";
import { startSignIn, finishSignIn, signOutOfUserPool } from "./signin.js";

const $ = (selector) => document.querySelector(selector);
const VIEWS = ["sign-in", "concerts", "waiting", "shop", "hold", "receipt", "ended"];
// A date of more than this many seats is listed one section at a time.
const LISTED_AT_ONCE = 1000;
// A listing comes a page at a time (at most 1,000 seats each); the largest section, 100,000
// seats, is 100 pages. More than that means a cursor that never ends: stop.
const MAX_SEAT_PAGES = 100;
const MAP_REFRESH_MS = 10000;
// An admitted fan's turn ends after ACTIVE_IDLE_SECONDS (at least 30) with no request carrying
// its token: a fan who walked away gives the slot back. While the page is open and the fan is
// in, it sends a light gated request this often, or twice in the time its ticket has left when
// that is shorter (a short idle time), so the turn lasts while the fan is there.
const KEEP_TURN_MS = 30000;
const KEEP_TURN_MIN_MS = 5000;

const fan = {
  config: null,
  api: null,
  identity: null, // { mode, name } or { mode, name, idToken, expiresAt }
  session: null, // signed in to the user pool (signin.js): its tokens, in memory only
  concerts: new Map(),
  concert: null, // the summary of the concert being bought
  ticket: null, // the last QueueTicket
  firstPosition: null,
  date: null,
  sections: [],
  section: undefined, // the section listed; undefined: the whole date
  selected: new Set(),
  reservation: null,
  paying: false, // a payment is on its way
  timers: new Set(),
  keepTurn: null, // the next beat that keeps the turn
};

// ------------------------------------------------------------------ small helpers

function show(view) {
  for (const id of VIEWS) $("#" + id).hidden = id !== view;
  for (const timer of fan.timers) clearTimeout(timer);
  fan.timers.clear();
}

function later(ms, run) {
  const timer = setTimeout(() => {
    fan.timers.delete(timer);
    run();
  }, ms);
  fan.timers.add(timer);
}

/** Runs `run` every second until it returns false or the view changes. */
function everySecond(run) {
  const step = () => {
    if (run() !== false) later(1000, step);
  };
  step();
}

/** Shows a refusal as a sentence; a lapsed sign-in goes back to the sign-in box. */
function refused(error) {
  say(sentence(error));
  if (error instanceof Problem && error.status === 401 && error.code === "UNAUTHENTICATED") signOut(false);
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (value !== false && value != null) node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

const storeKey = (what) => `tickets.${what}`;
const remember = (what, value) =>
  value == null ? sessionStorage.removeItem(storeKey(what)) : sessionStorage.setItem(storeKey(what), JSON.stringify(value));
const recall = (what) => JSON.parse(sessionStorage.getItem(storeKey(what)) || "null");
const queueKey = () => `queue.${fan.identity.name}`;
// Ids and dates go into paths encoded: an id is the service's to choose, not the URL's.
const concertPath = (concertId) => `/concerts/${encodeURIComponent(concertId)}`;
const datePath = () => `${concertPath(fan.concert.concertId)}/dates/${encodeURIComponent(fan.date)}`;
const secondsUntil = (iso) => (new Date(iso).getTime() - Date.now()) / 1000;

// ------------------------------------------------------------------ identity

function identityHeaders() {
  const who = fan.identity;
  if (!who) return {};
  if (who.mode === "local") return { "X-User-Id": who.name };
  // The user pool's ID token is the session's current one (renewed before it expires).
  const token = who.mode === "cognito" ? fan.session && fan.session.idToken : who.idToken;
  return { Authorization: `Bearer ${token}` };
}

function signedIn(identity) {
  fan.identity = identity;
  // No token of the user pool's goes to storage: a reload signs in again.
  remember("identity", identity.mode === "cognito" ? null : identity);
  $("#who").hidden = false;
  $("#who-name").textContent = identity.name;
  say("");
  const queued = recall(queueKey());
  listConcerts().then(() => {
    if (queued && fan.concerts.has(queued.concertId)) watchQueue(queued.concertId, queued.token);
  });
}

/** Signing out forgets the fan's place in the queue; a lapsed sign-in keeps it, to resume. */
function signOut(forgetQueue = true) {
  if (forgetQueue && fan.identity) remember(queueKey(), null);
  fan.identity = null;
  if (fan.session) fan.session.end();
  fan.session = null;
  remember("identity", null);
  $("#who").hidden = true;
  showSignIn();
}

function showSignIn() {
  show("sign-in");
  const mode = fan.config.signIn;
  $("#local-sign-in").hidden = mode !== "local";
  $("#cognito-sign-in").hidden = mode !== "cognito";
  $("#token-sign-in").hidden = mode !== "token";
}

function tokenName(idToken) {
  try {
    const claims = JSON.parse(atob(idToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return { name: claims.email || claims["cognito:username"] || claims.sub, expiresAt: 1000 * claims.exp };
  } catch {
    return { name: "signed in", expiresAt: Date.now() + 3600 * 1000 };
  }
}

$("#local-sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = $("#fan-name").value.trim();
  if (name) signedIn({ mode: "local", name });
});

// The user pool's managed login page asks for the password (signin.js); back here with a code.
$("#cognito-sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  startSignIn(fan.config).catch((error) => say(`Sign-in failed: ${error.message}`));
});

/** The managed login sent the fan back: the session starts, renewing itself. */
function signedInToUserPool(session) {
  fan.session = session;
  session.onLost = () => {
    say("Your sign-in ended. Sign in again to carry on.");
    signOut(false);
  };
  signedIn({ mode: "cognito", name: session.name });
}

$("#token-sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const idToken = $("#id-token").value.trim();
  signedIn({ mode: "token", idToken, ...tokenName(idToken) });
});

$("#sign-out").addEventListener("click", () => {
  const session = fan.session;
  signOut();
  if (session) {
    session.end();
    fan.session = null;
    signOutOfUserPool(fan.config);
  }
});

// ------------------------------------------------------------------ concerts

async function listConcerts() {
  show("concerts");
  let concerts;
  try {
    ({ concerts } = await fan.api.get("/concerts"));
  } catch (error) {
    return refused(error);
  }
  fan.concerts = new Map(concerts.map((c) => [c.concertId, c]));
  const list = $("#concert-list");
  list.replaceChildren(...concerts.map(concertCard));
  if (!concerts.length) list.append(element("li", {}, "No concerts are on sale."));
  // Opening times pass while the fan looks: the buttons follow them.
  later(Math.min(30000, nextOpening(concerts)), () => !$("#concerts").hidden && listConcerts());
}

function nextOpening(concerts) {
  const ahead = concerts
    .flatMap((c) => [c.queueOpensAt, c.saleOpensAt])
    .filter(Boolean)
    .map((at) => secondsUntil(at) * 1000 + 500)
    .filter((ms) => ms > 0);
  return ahead.length ? Math.min(...ahead) : 30000;
}

function concertCard(concert) {
  const dates = concert.firstDate === concert.lastDate ? concert.firstDate : `${concert.firstDate} to ${concert.lastDate}`;
  const facts = [element("li", {}, dates), element("li", {}, `Up to ${concert.maxTicketsPerFan} tickets a fan`)];
  let action;
  if (concert.soldOut) {
    action = element("button", { type: "button", disabled: true }, "Sold out");
    facts.push(element("li", { class: "sold-out" }, "Sold out: every seat of every date is sold."));
  } else if (concert.queueOpensAt && secondsUntil(concert.queueOpensAt) > 0) {
    action = element("button", { type: "button", disabled: true }, "Queue not open yet");
    facts.push(element("li", {}, `The queue opens ${localTime(concert.queueOpensAt)}`));
  } else {
    const preQueue = concert.saleOpensAt && secondsUntil(concert.saleOpensAt) > 0;
    if (preQueue) facts.push(element("li", {}, `The sale opens ${localTime(concert.saleOpensAt)}; join the pre-queue now`));
    action = element(
      "button",
      { type: "button", class: "primary", onclick: () => join(concert.concertId) },
      preQueue ? "Join the pre-queue" : "Join the queue",
    );
  }
  return element(
    "li",
    { "data-concert": concert.concertId, class: concert.soldOut ? "card sold-out" : "card" },
    element("h3", {}, concert.title),
    element("ul", { class: "facts" }, ...facts),
    action,
  );
}

async function join(concertId) {
  say("");
  try {
    const ticket = await fan.api.post(`${concertPath(concertId)}/queue/tokens`);
    remember(queueKey(), { concertId, token: ticket.token });
    fan.firstPosition = null;
    watchQueue(concertId, ticket.token, ticket);
  } catch (error) {
    refused(error);
    if (error.code === "SOLD_OUT") listConcerts();
  }
}

// ------------------------------------------------------------------ the queue

/** Shows the fan's ticket and polls it as often as each answer says, until admitted. */
async function watchQueue(concertId, token, ticket) {
  fan.concert = fan.concerts.get(concertId);
  show("waiting");
  $("#waiting-title").textContent = fan.concert ? fan.concert.title : concertId;
  if (!ticket) {
    try {
      ticket = await fan.api.get("/queue/status", { token });
    } catch (error) {
      return queueEnded(error);
    }
  }
  showTicket(ticket);
}

function showTicket(ticket) {
  fan.ticket = ticket;
  if (ticket.status === "ACTIVE") return openShop();
  if (ticket.status === "SOLD_OUT") {
    remember(queueKey(), null);
    return ended("Sold out", "Every seat of this concert was sold while you waited. We are sorry.");
  }
  const preQueue = ticket.status === "PRE_QUEUE";
  $("#waiting-status").textContent = preQueue
    ? "You are in the pre-queue."
    : ticket.position == null
      ? "You are in the queue. Counting the fans ahead of you…"
      : ticket.position === 1
        ? "You are next!"
        : "You are in the queue.";
  // A time is shown only when the service gives one: none while admission is paused, nor while
  // every turn is taken (the line then moves only as fans ahead pay, give seats back or leave).
  const unknown = ticket.estimatedWaitSeconds == null;
  $("#paused").hidden = !ticket.admissionPaused;
  $("#no-eta").hidden = preQueue || !unknown || ticket.admissionPaused;
  $("#position").textContent = ticket.position == null ? "–" : ticket.position.toLocaleString("en-US");
  $("#wait").textContent = preQueue
    ? "until the opening"
    : unknown
      ? ticket.admissionPaused
        ? "paused"
        : "not known yet"
      : `about ${duration(ticket.estimatedWaitSeconds)}`;
  const bar = $("#progress");
  if (ticket.position == null) {
    bar.removeAttribute("value");
  } else {
    fan.firstPosition = Math.max(fan.firstPosition || 0, ticket.position);
    bar.value = (fan.firstPosition - ticket.position + 1) / (fan.firstPosition + 1);
  }
  $("#countdown-box").hidden = !(preQueue && fan.concert && fan.concert.saleOpensAt);
  const nextPoll = Date.now() + 1000 * ticket.pollAfterSeconds;
  everySecond(() => {
    if (preQueue && fan.concert && fan.concert.saleOpensAt) {
      const left = secondsUntil(fan.concert.saleOpensAt);
      $("#countdown").textContent = left > 0 ? duration(left) : "moments: drawing the order";
    }
    $("#next-poll").textContent = `Next check in ${Math.max(0, Math.ceil((nextPoll - Date.now()) / 1000))} s.`;
  });
  later(1000 * ticket.pollAfterSeconds, poll);
}

async function poll() {
  try {
    showTicket(await fan.api.get("/queue/status", { token: fan.ticket.token }));
  } catch (error) {
    queueEnded(error);
  }
}

function queueEnded(error) {
  if (["QUEUE_TOKEN_EXPIRED", "QUEUE_TOKEN_INVALID", "QUEUE_TOKEN_IDLE"].includes(error.code)) {
    remember(queueKey(), null);
    const concert = fan.concert;
    const title = error.code === "QUEUE_TOKEN_IDLE" ? "Your turn ended while you were away" : "Your place has ended";
    return ended(title, sentence(error), concert && !concert.soldOut ? concert.concertId : null);
  }
  refused(error);
}

function ended(title, text, rejoin) {
  show("ended");
  $("#ended-title").textContent = title;
  $("#ended-text").textContent = text;
  const back = $("#ended-back");
  back.textContent = rejoin ? "Join the queue again" : "Back to the concerts";
  back.onclick = () => (rejoin ? join(rejoin) : listConcerts());
}

// ------------------------------------------------------------------ dates, sections, seats

async function openShop() {
  show("shop");
  const token = fan.ticket.token;
  const concert = fan.concert;
  $("#shop-title").textContent = concert.title;
  keepTurn();
  everySecond(() => {
    // The ticket's end moves while the turn is kept (`keepTurn` reads it again).
    const left = secondsUntil(fan.ticket.expiresAt);
    $("#active-until").textContent = `You are in: ${clock(left)} left to choose and pay. Keep this page open to keep your turn.`;
    if (left <= 0) {
      remember(queueKey(), null);
      ended("Your time is up", "Your turn to buy has ended. Join the queue again to try once more.", concert.concertId);
      return false;
    }
  });
  const held = await liveHold(concert.concertId);
  if (held) return showHold(held);
  backFromCheckout();
  try {
    const { dates } = await fan.api.get(`${concertPath(concert.concertId)}/dates`, { token });
    $("#date-list").replaceChildren(
      ...dates.map((d) =>
        element(
          "button",
          { type: "button", "data-date": d.date, onclick: () => openDate(d.date) },
          d.date,
          element("small", {}, `${d.remainingSeats.toLocaleString("en-US")} left`),
        ),
      ),
    );
    if (!dates.length) say("No date of this concert has seats left.");
    else openDate(fan.date && dates.some((d) => d.date === fan.date) ? fan.date : dates[0].date);
  } catch (error) {
    if (error.status === 401) return queueEnded(error);
    refused(error);
  }
}

/** While the fan shops or holds with this token, every KEEP_TURN_MS or sooner: the dates (a
 * gated request carrying the token, which renews the turn), then the ticket, whose `expiresAt`
 * has moved. It stops once the page shows anything else or the fan has another token; a turn
 * that ended says why. */
function keepTurn() {
  clearTimeout(fan.keepTurn);
  const token = fan.ticket.token;
  const concertId = fan.concert.concertId;
  const current = () => fan.ticket && fan.ticket.token === token && (!$("#shop").hidden || !$("#hold").hidden);
  const next = () => {
    const half = (secondsUntil(fan.ticket.expiresAt) * 1000) / 2;
    return Number.isFinite(half) ? Math.max(KEEP_TURN_MIN_MS, Math.min(KEEP_TURN_MS, half)) : KEEP_TURN_MS;
  };
  const beat = async () => {
    if (!current()) return;
    try {
      await fan.api.get(`${concertPath(concertId)}/dates`, { token });
      const ticket = await fan.api.get("/queue/status", { token });
      if (current() && ticket.status === "ACTIVE") fan.ticket = ticket;
    } catch (error) {
      if (error.status === 401 && current()) return queueEnded(error);
      // No answer, or busy: the next beat tries again, well within the idle time.
    }
    if (current()) fan.keepTurn = setTimeout(beat, next());
  };
  fan.keepTurn = setTimeout(beat, next());
}

/** A hold the fan still has for this concert (after a reload, or an answer that was lost). */
async function liveHold(concertId) {
  try {
    const { items } = await fan.api.get("/reservations?limit=20");
    return items.find((r) => r.concertId === concertId && r.status === "HELD" && secondsUntil(r.heldUntil) > 0);
  } catch (error) {
    refused(error);
    return null;
  }
}

async function openDate(date) {
  fan.date = date;
  fan.section = undefined;
  fan.selected.clear();
  for (const button of document.querySelectorAll("#date-list button")) {
    button.classList.toggle("current", button.dataset.date === date);
  }
  try {
    const { sections } = await fan.api.get(`${datePath()}/sections`, {
      token: fan.ticket.token,
    });
    fan.sections = sections;
  } catch (error) {
    if (error.status === 401) return queueEnded(error);
    return refused(error);
  }
  const seats = fan.sections[fan.sections.length - 1].toSeat;
  const box = $("#section-list");
  box.hidden = seats <= LISTED_AT_ONCE;
  if (seats <= LISTED_AT_ONCE) return showSeats(undefined);
  // A large venue: its sections first, then one section's seats.
  box.replaceChildren(
    ...fan.sections.map((s) =>
      element(
        "button",
        {
          type: "button",
          class: "card section",
          "data-section": s.section,
          disabled: s.freeSeats === 0,
          onclick: () => showSeats(s.section),
        },
        element("strong", {}, s.section),
        element("span", {}, won(s.price)),
        element("small", {}, s.freeSeats ? `${s.freeSeats.toLocaleString("en-US")} free` : "full"),
      ),
    ),
  );
  $("#map-box").hidden = true;
}

async function showSeats(section) {
  if (section !== fan.section) fan.selected.clear();
  fan.section = section;
  for (const card of document.querySelectorAll("#section-list .section")) {
    card.classList.toggle("current", card.dataset.section === section);
  }
  const seats = [];
  try {
    let cursor = null;
    for (let page = 0; page < MAX_SEAT_PAGES; page++) {
      const query = [
        ...(section === undefined ? [] : [`section=${encodeURIComponent(section)}`]),
        ...(cursor === null ? [] : [`cursor=${encodeURIComponent(cursor)}`]),
      ];
      const path = `${datePath()}/seats`;
      const listed = await fan.api.get(query.length ? `${path}?${query.join("&")}` : path, {
        token: fan.ticket.token,
      });
      seats.push(...listed.seats);
      cursor = listed.nextCursor;
      if (cursor === null || cursor === undefined) break;
    }
  } catch (error) {
    if (error.status === 401) return queueEnded(error);
    return refused(error);
  }
  $("#map-box").hidden = false;
  $("#map-title").textContent = `${fan.date}${section ? ` · ${section}` : ""}`;
  drawMap(seats);
  const limit = fan.concert.maxTicketsPerFan;
  $("#quantity").replaceChildren(
    ...Array.from({ length: limit }, (_, i) => element("option", { value: i + 1, selected: i === 1 || limit === 1 }, String(i + 1))),
  );
  $("#limit-hint").textContent = `Up to ${limit} tickets a fan for this concert, all dates together.`;
  // The map fills up as others buy: read it again while the fan looks at it.
  const shown = { date: fan.date, section };
  later(MAP_REFRESH_MS, () => {
    if (!$("#map-box").hidden && fan.date === shown.date && fan.section === shown.section) showSeats(section);
  });
}

/** Seats in runs of one section and price, each seat a button coloured by its status. */
function drawMap(seats) {
  const map = $("#seat-map");
  const groups = [];
  for (const seat of seats) {
    const last = groups[groups.length - 1];
    if (last && last.section === seat.section && last.price === seat.price) last.seats.push(seat);
    else groups.push({ section: seat.section, price: seat.price, seats: [seat] });
  }
  const live = new Set(seats.filter((s) => s.status === "AVAILABLE").map((s) => s.seatNumber));
  for (const seat of fan.selected) if (!live.has(seat)) fan.selected.delete(seat);
  map.replaceChildren(
    ...groups.map((group) => {
      const first = group.seats[0].seatNumber;
      const last = group.seats[group.seats.length - 1].seatNumber;
      return element(
        "div",
        { class: "block" },
        element("h4", {}, `${group.section || `Seats ${first}–${last}`} · ${won(group.price)}`),
        element("div", { class: "seats" }, ...group.seats.map(seatButton)),
      );
    }),
  );
  updatePicked();
}

/** What a seat's button says to a screen reader (and as its tooltip): section, seat, price,
 * status, in words. */
function seatLabel(seat, picked) {
  const status = picked ? "your pick" : { AVAILABLE: "free", HELD: "held by another fan", SOLD: "sold" }[seat.status];
  return [seat.section, `seat ${seat.seatNumber}`, won(seat.price), status].filter(Boolean).join(", ");
}

function seatButton(seat) {
  const status = seat.status.toLowerCase();
  const picked = fan.selected.has(seat.seatNumber);
  const label = seatLabel(seat, picked);
  return element(
    "button",
    {
      type: "button",
      class: `seat ${picked ? "selected" : status}`,
      "data-seat": seat.seatNumber,
      "data-status": seat.status,
      title: label,
      "aria-label": label,
      "aria-pressed": picked ? "true" : "false",
      disabled: seat.status !== "AVAILABLE",
      onclick: (event) => pickSeat(seat, event.currentTarget),
    },
    String(seat.seatNumber),
  );
}

function pickSeat(seat, button) {
  const number = seat.seatNumber;
  say("");
  if (fan.selected.has(number)) {
    fan.selected.delete(number);
  } else if (fan.selected.size >= fan.concert.maxTicketsPerFan) {
    return say(`You may pick up to ${fan.concert.maxTicketsPerFan} seats.`);
  } else {
    fan.selected.add(number);
  }
  const picked = fan.selected.has(number);
  button.className = `seat ${picked ? "selected" : "available"}`;
  button.setAttribute("aria-pressed", picked ? "true" : "false");
  button.setAttribute("aria-label", seatLabel(seat, picked));
  button.title = seatLabel(seat, picked);
  updatePicked();
}

function updatePicked() {
  const count = fan.selected.size;
  $("#hold-picked").disabled = count === 0;
  $("#hold-picked").textContent = count
    ? `Hold seat${count > 1 ? "s" : ""} ${[...fan.selected].sort((a, b) => a - b).join(", ")}`
    : "Pick seats on the map";
}

$("#pick").addEventListener("submit", (event) => {
  event.preventDefault();
  hold({ seatNumbers: [...fan.selected].sort((a, b) => a - b) });
});

$("#hold-best").addEventListener("click", () => {
  const order = { quantity: Number($("#quantity").value) };
  if (fan.section) order.section = fan.section;
  hold(order);
});

async function hold(order) {
  say("");
  const body = { concertId: fan.concert.concertId, date: fan.date, ...order };
  try {
    const reservation = await postKeyed("/reservations", body, { token: fan.ticket.token });
    fan.selected.clear();
    showHold(reservation);
  } catch (error) {
    if (error.status === 401) return queueEnded(error);
    refused(error);
    if (error.code === "SEAT_UNAVAILABLE") showSeats(fan.section);
  }
}

// ------------------------------------------------------------------ keyed requests

// A hold, top-up or payment the service never answered (the client gave up retrying) is the
// same request when the fan tries it again: it keeps its Idempotency-Key until an answer comes,
// so that it is never applied twice.
const unanswered = new Map();

async function postKeyed(path, body, options = {}) {
  const request = path + JSON.stringify(body);
  const idempotencyKey = unanswered.get(request) || newKey();
  unanswered.set(request, idempotencyKey);
  try {
    const answer = await fan.api.post(path, body, { ...options, idempotencyKey });
    unanswered.delete(request);
    return answer;
  } catch (error) {
    if (!(error instanceof Problem && error.status === 0)) unanswered.delete(request);
    throw error;
  }
}

// ------------------------------------------------------------------ hold, balance, payment

async function showHold(reservation) {
  fan.reservation = reservation;
  fan.date = reservation.date;
  show("hold");
  $("#hold-what").textContent = `${fan.concert.title} · ${reservation.date}`;
  $("#hold-seats tbody").replaceChildren(
    ...reservation.seats.map((s) =>
      element("tr", {}, element("td", {}, String(s.seatNumber)), element("td", {}, s.section || "–"), element("td", {}, won(s.price))),
    ),
  );
  $("#hold-total").textContent = won(reservation.price);
  everySecond(() => {
    const left = secondsUntil(reservation.heldUntil);
    $("#hold-countdown").textContent = clock(left);
    if (left <= 0) {
      say("Your hold ran out of time and the seats went back on sale. Pick seats again.");
      openShop();
      return false;
    }
  });
  await showBalance();
}

async function showBalance() {
  try {
    const { balance } = await fan.api.get("/balance");
    $("#balance").textContent = won(balance);
    $("#balance-chip").textContent = `Balance ${won(balance)}`;
    $("#balance-chip").hidden = false;
    const short = fan.reservation ? fan.reservation.price - balance : 0;
    $("#top-up-amount").value = short > 0 ? short : "";
    $("#pay").disabled = short > 0;
    $("#pay").textContent = short > 0 ? `Top up ${won(short)} more to pay` : `Pay ${won(fan.reservation.price)}`;
  } catch (error) {
    refused(error);
  }
}

$("#top-up").addEventListener("submit", async (event) => {
  event.preventDefault();
  say("");
  const amount = Number($("#top-up-amount").value);
  if (!Number.isInteger(amount) || amount < 1) return say("Enter a whole number of won to top up.");
  try {
    await postKeyed("/balance/charges", { amount });
    await showBalance();
  } catch (error) {
    refused(error);
  }
});

$("#pay").addEventListener("click", async () => {
  say("");
  $("#pay").disabled = true;
  fan.paying = true;
  try {
    const receipt = await postKeyed("/payments", { reservationId: fan.reservation.reservationId }, { token: fan.ticket.token });
    remember(queueKey(), null);
    showReceipt(receipt);
  } catch (error) {
    refused(error);
    if (error.code === "INSUFFICIENT_BALANCE") return showBalance();
    if (["RESERVATION_EXPIRED", "RESERVATION_RELEASED", "RESERVATION_NOT_FOUND"].includes(error.code)) return openShop();
    if (error.code === "ALREADY_PAID" || error.status === 401) return queueEnded(error);
    $("#pay").disabled = false;
  } finally {
    fan.paying = false;
  }
});

// A fan who leaves checkout gives the seats back at once, not when the hold lapses minutes
// later while the fans waiting could have bought them: the page asks first (the browser's own
// "Leave site?", which a reload asks too), then sends the release as it goes. Not while a
// payment is on its way: the fan who clicked Pay meant to buy.
const inCheckout = () =>
  !$("#hold").hidden && fan.reservation && !fan.paying && secondsUntil(fan.reservation.heldUntil) > 0;

window.addEventListener("beforeunload", (event) => {
  if (!inCheckout()) return;
  event.preventDefault();
  event.returnValue = ""; // what browsers before 2024 asked for
});

window.addEventListener("pagehide", () => {
  if (!inCheckout()) return;
  fan.api.sendAsThePageGoes("DELETE", `/reservations/${encodeURIComponent(fan.reservation.reservationId)}`);
  fan.reservation = null;
  remember("left-checkout", true);
});

// Back on the page (a reload, or the back button bringing the page back as it was): the seats
// went back as it was left, and the fan is told so.
function backFromCheckout() {
  if (!recall("left-checkout")) return false;
  remember("left-checkout", null);
  say("You left checkout, so the seats you held went back on sale. Pick seats again.");
  return true;
}

window.addEventListener("pageshow", (event) => {
  if (event.persisted && fan.ticket && backFromCheckout()) openShop();
});

$("#release").addEventListener("click", async () => {
  say("");
  try {
    await fan.api.send("DELETE", `/reservations/${encodeURIComponent(fan.reservation.reservationId)}`);
  } catch (error) {
    if (error.code !== "RESERVATION_RELEASED" && error.code !== "RESERVATION_EXPIRED") return refused(error);
  }
  fan.reservation = null;
  openShop();
});

function showReceipt(receipt) {
  show("receipt");
  $("#receipt-concert").textContent = fan.concert.title;
  $("#receipt-date").textContent = receipt.date;
  $("#receipt-seats").textContent = receipt.seatNumbers.join(", ");
  $("#receipt-amount").textContent = won(receipt.amount);
  $("#receipt-balance").textContent = won(receipt.balanceAfter);
  $("#receipt-at").textContent = localTime(receipt.paidAt);
  $("#receipt-id").textContent = receipt.paymentId;
  $("#balance-chip").textContent = `Balance ${won(receipt.balanceAfter)}`;
}

$("#done").addEventListener("click", () => listConcerts());
$("#home").addEventListener("click", (event) => {
  event.preventDefault();
  if (fan.identity) listConcerts();
});

// ------------------------------------------------------------------ start

async function start() {
  try {
    fan.config = await loadConfig();
  } catch (error) {
    return say(`The page could not load its settings: ${error.message}`);
  }
  fan.api = new Api(fan.config, identityHeaders, showRetry);
  if (fan.config.signIn === "cognito") {
    try {
      const session = await finishSignIn(fan.config);
      if (session) return signedInToUserPool(session);
    } catch (error) {
      say(`Sign-in failed: ${error.message}`);
    }
  }
  const identity = recall("identity");
  if (identity && (identity.mode === "local" || identity.expiresAt > Date.now())) signedIn(identity);
  else showSignIn();
}

start();
