#!/usr/bin/env python3
"""Drives a real headless Chromium through the DevTools protocol for Herd's dashboard tests: opens
pages, waits for text, clicks, saves each page's text and a PNG screenshot. Steps are JSON lines on
standard input, one result line (JSON) per step on standard output:

  {"goto": URL}                       navigate and wait for the load event; -> {"status": HTTP status}
  {"text": NAME}                      -> {"text": document.body.innerText} (also saved as NAME.txt)
  {"wait_for": TEXT, "timeout": S}    reload until the page shows TEXT; -> {"found": bool}
  {"click": CSS}                      click, wait for the next load; -> {"clicked": bool}
  {"screenshot": NAME}                full page PNG into OUTDIR/NAME.png; -> {"bytes": n}

usage: cdp.py CHROMIUM OUTDIR
"""
import asyncio
import base64
import json
import os
import re
import subprocess
import sys
import tempfile

from websockets.asyncio.client import connect


class Page:
    def __init__(self, socket, session):
        self.socket = socket
        self.session = session
        self.next_id = 0
        self.events = []
        self.status = None

    async def call(self, method, **params):
        self.next_id += 1
        ident = self.next_id
        message = {"id": ident, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        await self.socket.send(json.dumps(message))
        while True:
            reply = json.loads(await self.socket.recv())
            if reply.get("id") == ident:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
            self.note()

    async def wait_event(self, name, timeout=30):
        async def wait():
            while True:
                for index, event in enumerate(self.events):
                    if event.get("method") == name:
                        del self.events[: index + 1]
                        return event
                self.events.append(json.loads(await self.socket.recv()))
                self.note()

        return await asyncio.wait_for(wait(), timeout)

    def note(self):
        event = self.events[-1]
        if event.get("method") == "Network.responseReceived":
            params = event["params"]
            if params.get("type") == "Document":
                self.status = params["response"]["status"]

    async def load(self, action):
        self.events.clear()
        self.status = None
        await action()
        await self.wait_event("Page.loadEventFired")

    async def text(self):
        result = await self.call("Runtime.evaluate", expression="document.body ? document.body.innerText : ''")
        return result["result"].get("value", "")


async def main():
    chromium, outdir = sys.argv[1:3]
    profile = tempfile.mkdtemp(prefix="herd-chromium-")
    browser = subprocess.Popen(
        [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--remote-debugging-port=0", f"--user-data-dir={profile}",
         "--window-size=1280,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for line in browser.stderr:
            found = re.search(r"DevTools listening on (ws://\S+)", line)
            if found:
                url = found.group(1)
                break
        if not url:
            raise RuntimeError("chromium did not start")
        async with connect(url, max_size=None) as socket:
            root = Page(socket, None)
            target = await root.call("Target.createTarget", url="about:blank")
            attached = await root.call("Target.attachToTarget", targetId=target["targetId"], flatten=True)
            page = Page(socket, attached["sessionId"])
            await page.call("Page.enable")
            await page.call("Network.enable")
            await page.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1,
                            mobile=False)
            for line in sys.stdin:
                step = json.loads(line)
                if "goto" in step:
                    await page.load(lambda: page.call("Page.navigate", url=step["goto"]))
                    result = {"status": page.status}
                elif "text" in step:
                    text = await page.text()
                    with open(os.path.join(outdir, step["text"] + ".txt"), "w") as file:
                        file.write(text)
                    result = {"text": text}
                elif "wait_for" in step:
                    deadline = asyncio.get_event_loop().time() + step.get("timeout", 60)
                    found = False
                    while True:
                        if step["wait_for"] in await page.text():
                            found = True
                            break
                        if asyncio.get_event_loop().time() > deadline:
                            break
                        await asyncio.sleep(1)
                        await page.load(lambda: page.call("Page.reload", ignoreCache=True))
                    result = {"found": found}
                elif "click" in step:
                    selector = json.dumps(step["click"])
                    present = await page.call(
                        "Runtime.evaluate", expression=f"document.querySelector({selector}) !== null")
                    if present["result"].get("value"):
                        await page.load(lambda: page.call(
                            "Runtime.evaluate", expression=f"document.querySelector({selector}).click()"))
                        result = {"clicked": True, "status": page.status}
                    else:
                        result = {"clicked": False}
                elif "screenshot" in step:
                    shot = await page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
                    data = base64.b64decode(shot["data"])
                    with open(os.path.join(outdir, step["screenshot"] + ".png"), "wb") as file:
                        file.write(data)
                    result = {"bytes": len(data)}
                else:
                    result = {"error": "unknown step"}
                print(json.dumps(result), flush=True)
    finally:
        browser.kill()
        browser.wait()


if __name__ == "__main__":
    asyncio.run(main())
