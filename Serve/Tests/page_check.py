#!/usr/bin/env python3
"""Drives resnet-serve's page (GET /) in headless Chromium: drops an image on it and reads the classes it
shows, then saves a screenshot. Run by hand (Chromium is too big to install in every CI run):

    apt-get install chromium && python3 -m venv /tmp/cdp && /tmp/cdp/bin/pip install websocket-client
    (cd Serve && swift build -c release)
    /tmp/cdp/bin/python Serve/Tests/page_check.py [--screenshot page.png]

It starts the server on the shipped model, opens the page through the Chrome DevTools Protocol, drops
Data/fashion-mnist-mini/test/Bag/0467.png on the drop zone (a real `drop` event carrying the file, handled
by the page's own script), waits for the bars, and checks that the page shows the classes and percentages
the server answers for that image, most probable first. Exits 1 on any difference.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = os.path.join(ROOT, "Data", "fashion-mnist-mini", "test", "Bag", "0467.png")

DROP = """
(() => {
  const bytes = Uint8Array.from(atob(%s), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], "0467.png", { type: "image/png" }));
  const zone = document.getElementById("drop");
  zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, bubbles: true, cancelable: true }));
  zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
  return true;
})()
"""

READ = """
JSON.stringify([...document.querySelectorAll("#result .row")].map((row) => [
  row.querySelector(".label").textContent, row.querySelector(".pct").textContent,
  row.querySelector(".bar").style.width]))
"""


class DevTools:
    def __init__(self, url):
        self.socket = websocket.create_connection(url, timeout=30)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(message["error"])
                return message["result"]

    def evaluate(self, expression):
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--screenshot", default="/tmp/resnet-serve-page.png")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("page_check: no chromium (apt-get install chromium)")
    server = subprocess.Popen([os.path.join(ROOT, "Serve", ".build", "release", "resnet-serve"), "--model",
                               "fashion=" + os.path.join(ROOT, "Models", "fashion-mnist.safetensors"), "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(re.search(r"127\.0\.0\.1:(\d+)", server.stdout.readline()).group(1))
    profile = tempfile.mkdtemp()
    browser = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
                                f"--user-data-dir={profile}", "--window-size=900,700", "--no-proxy-server",
                                f"http://127.0.0.1:{port}/"], stderr=subprocess.PIPE, text=True)
    try:
        # Chromium says where its DevTools listen on stderr.
        for line in browser.stderr:
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                break
        debug = re.match(r"ws://([^/]+)/", match.group(1)).group(1)
        page = next(t for t in json.load(urllib.request.urlopen(f"http://{debug}/json")) if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        for _ in range(100):  # the page has loaded its model list
            if tools.evaluate("document.getElementById('model').options.length") == 1:
                break
            time.sleep(0.1)
        with open(IMAGE, "rb") as f:
            image = f.read()
        tools.evaluate(DROP % json.dumps(base64.b64encode(image).decode()))
        rows = []
        for _ in range(100):
            rows = json.loads(tools.evaluate(READ))
            if rows:
                break
            time.sleep(0.1)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models/fashion/classify?top=5", data=image,
                                         method="POST")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        expected = json.load(opener.open(request))["top"]
        want = [[p["class"], f"{100 * p['probability']:.1f}%", 100 * p["probability"]] for p in expected]
        # The bar's width as the browser keeps it ("0.0%" reads back as "0%").
        rows = [[label, pct, float(width.rstrip("%"))] for label, pct, width in rows]
        want = [[label, pct, round(width, 1)] for label, pct, width in want]
        shot = tools.call("Page.captureScreenshot", format="png")
        with open(args.screenshot, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print("page shows:", rows)
        print("server says:", want)
        print("screenshot:", args.screenshot)
        if rows != want:
            sys.exit("page_check: the page does not show the server's answer")
        print("page_check: ok")
    finally:
        browser.kill()
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
