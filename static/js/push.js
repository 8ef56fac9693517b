// Alerts on this device (the account page): register the service worker (/sw.js), subscribe this
// browser to Web Push with the app's VAPID public key and hand the subscription to the server; or
// turn it off again. The service worker shows the alerts (static/sw.js).

import { api, get, post } from "./api.js";
import { formatTime } from "./format.js";

const statusLine = document.getElementById("push-status");
const onButton = document.getElementById("push-on");
const offButton = document.getElementById("push-off");
const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

function say(text) {
  statusLine.textContent = text;
}

// The VAPID public key (base64url) as the bytes PushManager.subscribe wants.
function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function sameKey(buffer, base64url) {
  if (!buffer) return false;
  const mine = new Uint8Array(buffer);
  const theirs = keyBytes(base64url);
  return mine.length === theirs.length && mine.every((byte, i) => byte === theirs[i]);
}

async function registration() {
  await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  return navigator.serviceWorker.ready;
}

async function currentSubscription() {
  const reg = await navigator.serviceWorker.getRegistration("/");
  return reg ? reg.pushManager.getSubscription() : null;
}

function showState(on) {
  onButton.hidden = on;
  offButton.hidden = !on;
}

async function show() {
  if (!supported) {
    say("This browser cannot show alerts while Intake Inbox is closed.");
    return;
  }
  const subscription = await currentSubscription();
  if (subscription && Notification.permission === "granted") {
    // The server forgets a browser its push service refused: tell it again that this one is on.
    await post("/api/push/subscriptions", subscription.toJSON());
    say("Alerts are on for this device.");
    showState(true);
  } else if (Notification.permission === "denied") {
    say("Notifications are blocked for this site. Allow them in the browser's site settings, then come back.");
    showState(false);
  } else {
    say("Alerts are off for this device.");
    showState(false);
  }
}

async function turnOn() {
  onButton.disabled = true;
  try {
    if ((await Notification.requestPermission()) !== "granted") {
      say("The browser did not allow notifications, so alerts stay off.");
      return;
    }
    const reg = await registration();
    const { key } = await get("/api/push/key");
    let subscription = await reg.pushManager.getSubscription();
    if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe(); // made for another key: pushes signed with ours would be refused
      subscription = null;
    }
    subscription ||= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
    await post("/api/push/subscriptions", subscription.toJSON());
    location.reload();
  } catch (error) {
    say(`Alerts could not be turned on in this browser: ${error.message}`);
  } finally {
    onButton.disabled = false;
  }
}

async function turnOff() {
  offButton.disabled = true;
  try {
    const subscription = await currentSubscription();
    if (subscription) {
      await api("DELETE", "/api/push/subscriptions", { endpoint: subscription.endpoint }).catch((error) => {
        if (error.status !== 404) throw error; // already forgotten by the server: fine
      });
      await subscription.unsubscribe();
    }
    location.reload();
  } catch (error) {
    say(`Alerts could not be turned off: ${error.message}`);
    offButton.disabled = false;
  }
}

async function removeDevice(button) {
  button.disabled = true;
  try {
    await api("DELETE", "/api/push/subscriptions", { id: Number(button.dataset.remove) });
    location.reload();
  } catch (error) {
    say(`That device could not be removed: ${error.message}`);
    button.disabled = false;
  }
}

// The list's times, on the practice's clock.
for (const time of document.querySelectorAll("#push-devices time")) time.textContent = formatTime(time.dateTime);

onButton.addEventListener("click", turnOn);
offButton.addEventListener("click", turnOff);
document.getElementById("push-devices").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-remove]");
  if (button) removeDevice(button);
});
show()
  .catch((error) => say(`Alerts are unavailable in this browser: ${error.message}`))
  .finally(() => {
    window.__pushReady = true;
  });
