// The operator view: a concert's waiting room, read every two seconds, paused or resumed, and
// its admission rate and ceiling changed live. Locally the operator is named by X-Operator-Id;
// deployed, the operator signs in to the stack's user pool (signin.js, as fans do) and calls the
// operator API with the ID token, which the service accepts for members of "operators".

import { Api, loadConfig, say, showRetry, sentence, duration, localTime } from "./api.js";
import { startSignIn, finishSignIn } from "./signin.js";

const $ = (selector) => document.querySelector(selector);
const REFRESH_MS = 2000;

let api; // the /admin routes
let catalog; // GET /concerts: the same API locally, the fans' API deployed
let session; // signed in to the user pool (deployed): its tokens, in memory only
let concertId;
let room;
let refresh;

const operator = () => (session ? session.name : $("#operator").value.trim());
// GET /concerts needs a caller too: locally the operator's name serves as one.
const headers = () =>
  session ? { Authorization: `Bearer ${session.idToken}` } : { "X-Operator-Id": operator(), "X-User-Id": operator() };
const roomPath = () => `/admin/concerts/${encodeURIComponent(concertId)}/waiting-room`;
const count = (n) => Number(n).toLocaleString("en-US");

async function listConcerts() {
  if (!operator()) return;
  try {
    const { concerts } = await catalog.get("/concerts");
    const select = $("#concert");
    const chosen = select.value;
    select.replaceChildren(
      ...concerts.map((c) => {
        const option = document.createElement("option");
        option.value = c.concertId;
        option.textContent = `${c.title} (${c.concertId})`;
        option.selected = c.concertId === chosen;
        return option;
      }),
    );
  } catch (error) {
    say(sentence(error));
  }
}

function showRoom(next) {
  room = next;
  $("#room").hidden = false;
  $("#room-title").textContent = room.concertId;
  $("#state").textContent = room.state.replace("_", " ");
  $("#state").className = `state ${room.state}`;
  $("#waiting").textContent = count(room.waiting);
  $("#active").textContent = count(room.active);
  $("#admitted").textContent = count(room.admittedTotal);
  $("#dropped").textContent = count(room.droppedTotal);
  $("#free").textContent = count(room.seats.free);
  $("#held").textContent = count(room.seats.held);
  $("#sold").textContent = count(room.seats.sold);
  $("#last-wait").textContent = duration(room.estimatedWaitSecondsForLast);
  $("#tick").textContent = room.admitTickSeconds;
  $("#opening").textContent = [
    room.queueOpensAt && `Queue opens ${localTime(room.queueOpensAt)}.`,
    room.saleOpensAt && `Sale opens ${localTime(room.saleOpensAt)}.`,
  ]
    .filter(Boolean)
    .join(" ");
  $("#as-of").textContent = `As of ${new Date().toLocaleTimeString("en-GB")}.`;
  const paused = room.state === "PAUSED";
  $("#pause").textContent = paused ? "Resume admission" : "Pause admission";
  // The knobs show what is set, unless the operator is typing a new value.
  for (const [id, value] of [["#admit-per-tick", room.admitPerTick], ["#max-active", room.maxActive]]) {
    if (document.activeElement !== $(id)) $(id).value = value;
  }
}

async function watch() {
  clearTimeout(refresh);
  try {
    showRoom(await api.get(roomPath()));
  } catch (error) {
    say(sentence(error));
  }
  refresh = setTimeout(watch, REFRESH_MS);
}

async function change(body) {
  say("");
  try {
    showRoom(await api.send("PATCH", roomPath(), { body }));
  } catch (error) {
    say(sentence(error));
  }
}

$("#pick-room").addEventListener("submit", (event) => {
  event.preventDefault();
  say("");
  concertId = $("#concert").value;
  if (!concertId) return listConcerts();
  sessionStorage.setItem("tickets.operator", operator());
  watch();
});

let typing;
$("#operator").addEventListener("input", () => {
  clearTimeout(typing);
  typing = setTimeout(listConcerts, 300);
});
$("#pause").addEventListener("click", () => change({ paused: room.state !== "PAUSED" }));
$("#knobs").addEventListener("submit", (event) => {
  event.preventDefault();
  change({ admitPerTick: Number($("#admit-per-tick").value), maxActive: Number($("#max-active").value) });
});

/** Deployed with the stack's user pool: back from its managed login, or off to it. */
async function signInToUserPool(config) {
  let returned = null;
  try {
    returned = await finishSignIn(config);
  } catch (error) {
    say(`Sign-in failed: ${error.message}`);
  }
  if (!returned) {
    $("#pick-box").hidden = true;
    $("#operator-sign-in").hidden = false;
    $("#operator-sign-in-button").addEventListener("click", () =>
      startSignIn(config).catch((error) => say(`Sign-in failed: ${error.message}`)),
    );
    return false;
  }
  session = returned;
  session.onLost = () => {
    clearTimeout(refresh);
    session = null;
    $("#room").hidden = true;
    $("#pick-box").hidden = true;
    $("#operator-sign-in").hidden = false;
    say("Your sign-in ended: sign in again.");
  };
  $("#operator-row").hidden = true;
  $("#operator").required = false;
  $("#operator-name").hidden = false;
  $("#operator-name").textContent = `Signed in as ${session.name}`;
  api = new Api({ ...config, apiUrl: config.operatorApiUrl.replace(/\/$/, "") }, headers, showRetry);
  catalog = new Api(config, headers, showRetry);
  return true;
}

async function start() {
  const config = await loadConfig();
  if (config.signIn === "cognito" && config.operatorApiUrl) {
    if (await signInToUserPool(config)) await listConcerts();
    return;
  }
  if (config.signIn !== "local") {
    $("#remote").hidden = false;
    $("#pick-box").hidden = true;
    return;
  }
  api = new Api(config, headers, showRetry);
  catalog = api;
  $("#operator").value = sessionStorage.getItem("tickets.operator") || "";
  await listConcerts();
}

start().catch((error) => say(`The page could not start: ${error.message}`));
