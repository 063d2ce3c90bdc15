"""A student's side of the hub without a browser: log in, start the server, pull the
course, start a kernel, edit a notebook -- the REST calls JupyterLab makes."""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode

SPAWN_S = 180  # a server's start on a busy 2-core machine


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None


class Student:
    def __init__(self, hub_url: str, name: str) -> None:
        self.hub_url, self.name = hub_url, name
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)
        self.token = ""

    def _open(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
              timeout: float = 60) -> tuple[int, bytes]:
        request = urllib.request.Request(f"{self.hub_url}{path}", data=body, method=method, headers=headers or {})
        if self.token:
            request.add_header("Authorization", f"token {self.token}")
        try:
            with self.opener.open(request, timeout=timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def log_in(self, password: str) -> bool:
        """The login form, as a browser sends it: True when the hub accepts the password."""
        status, page = self._open("GET", "/hub/login")
        xsrf = re.search(rb'name="_xsrf" value="([^"]+)"', page)
        assert status == 200 and xsrf, (status, page[:300])
        form = urlencode({"username": self.name, "password": password, "_xsrf": xsrf.group(1).decode()}).encode()
        status, _ = self._open("POST", "/hub/login?next=%2Fhub%2Fhome", form,
                               {"Content-Type": "application/x-www-form-urlencoded"})
        return status == 302

    def get_token(self) -> None:
        """An API token of the student's own (what the hub's Token page gives)."""
        xsrf = next(cookie.value for cookie in self.cookies if cookie.name == "_xsrf")
        status, body = self._open("POST", f"/hub/api/users/{self.name}/tokens", json.dumps({"note": "test"}).encode(),
                                  {"X-XSRFToken": xsrf, "Content-Type": "application/json"})
        assert status in (200, 201), (status, body[:300])
        self.token = json.loads(body)["token"]

    def api(self, method: str, path: str, payload: object = None, timeout: float = 60) -> tuple[int, object]:
        body = None if payload is None else json.dumps(payload).encode()
        status, text = self._open(method, path, body, {"Content-Type": "application/json"}, timeout)
        try:
            return status, json.loads(text or b"null")
        except ValueError:
            return status, text

    def start_server(self) -> None:
        status, body = self.api("POST", f"/hub/api/users/{self.name}/server")
        assert status in (201, 202), (status, body)
        deadline = time.monotonic() + SPAWN_S
        while True:
            _, user = self.api("GET", f"/hub/api/users/{self.name}")
            server = (user.get("servers") or {}).get("") if isinstance(user, dict) else None
            if server and server.get("ready"):
                return
            assert time.monotonic() < deadline, f"{self.name}'s server did not start: {user}"
            time.sleep(1)

    def pull(self, repo: str, branch: str, target: str) -> str:
        """nbgitpuller's endpoint, as its status page calls it; returns the event stream."""
        query = urlencode({"repo": repo, "branch": branch, "targetpath": target})
        status, body = self._open("GET", f"/user/{self.name}/git-pull/api?{query}", timeout=120)
        text = body.decode(errors="replace")
        assert status == 200 and '"phase": "finished"' in text, (status, text[-500:])
        return text

    def start_kernel(self) -> str:
        status, kernel = self.api("POST", f"/user/{self.name}/api/kernels", {"name": "python3"})
        assert status == 201, (status, kernel)
        return kernel["id"]

    def contents(self, path: str) -> dict:
        status, body = self.api("GET", f"/user/{self.name}/api/contents/{quote(path)}")
        assert status == 200, (status, body)
        return body

    def save_notebook(self, path: str, notebook: dict) -> None:
        status, body = self.api("PUT", f"/user/{self.name}/api/contents/{quote(path)}",
                                {"type": "notebook", "format": "json", "content": notebook})
        assert status in (200, 201), (status, body)
