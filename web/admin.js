// The operator view: a concert's waiting room, read every two seconds, paused or resumed, and
// its admission rate and ceiling changed live. Locally the operator is named by X-Operator-Id.

import { Api, loadConfig, say, showRetry, sentence, duration, localTime } from "./api.js";

const $ = (selector) => document.querySelector(selector);
const REFRESH_MS = 2000;

let api;
let concertId;
let room;
let refresh;

const operator = () => $("#operator").value.trim();
// GET /concerts needs a caller too: locally the operator's name serves as one.
const headers = () => ({ "X-Operator-Id": operator(), "X-User-Id": operator() });
const roomPath = () => `/admin/concerts/${encodeURIComponent(concertId)}/waiting-room`;
const count = (n) => Number(n).toLocaleString("en-US");

async function listConcerts() {
  if (!operator()) return;
  try {
    const { concerts } = await api.get("/concerts");
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

async function start() {
  const config = await loadConfig();
  if (config.signIn !== "local") {
    $("#remote").hidden = false;
    $("#pick-box").hidden = true;
    return;
  }
  api = new Api(config, headers, showRetry);
  $("#operator").value = sessionStorage.getItem("tickets.operator") || "";
  await listConcerts();
}

start().catch((error) => say(`The page could not start: ${error.message}`));
