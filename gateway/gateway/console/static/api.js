/* The console's client of the public API: the operator's tokens, refreshed before they expire and once more
   when a request meets 401; problem+json errors become ApiError; every POST carries an Idempotency-Key. */
"use strict";

(function () {
  const SESSION_KEY = "linli.console.session";
  const REFRESH_MARGIN_MS = 60 * 1000;

  class ApiError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || "HTTP " + status);
      this.status = status;
      this.problem = problem || {};
      this.code = this.problem.code || null;
    }
  }

  class NetworkError extends Error {}

  // Refusals after which the same write may still be under way or be retried as it is: keep its key.
  const KEEP_KEY = new Set(["idempotency_in_progress", "idempotency_retry", "rate_limited"]);

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  class Api {
    constructor() {
      this.session = null; // {access_token, refresh_token, expires_at}
      this.refreshing = null; // one refresh at a time: a refresh token is spent by its use
      this.timer = null;
      this.renewedKeys = new Map(); // a dialog's key → the key its next press uses after a 4xx
      this.onSignedOut = () => {};
      try {
        this.session = JSON.parse(window.sessionStorage.getItem(SESSION_KEY) || "null");
      } catch (e) {
        this.session = null;
      }
      if (this.session) this.schedule();
    }

    get signedIn() {
      return this.session !== null;
    }

    store(tokens) {
      this.session = {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at: Date.now() + tokens.expires_in * 1000,
      };
      window.sessionStorage.setItem(SESSION_KEY, JSON.stringify(this.session));
      this.schedule();
    }

    schedule() {
      window.clearTimeout(this.timer);
      const wait = Math.max(5000, this.session.expires_at - Date.now() - REFRESH_MARGIN_MS);
      this.timer = window.setTimeout(() => this.refresh().catch(() => {}), wait);
    }

    clear() {
      window.clearTimeout(this.timer);
      this.session = null;
      window.sessionStorage.removeItem(SESSION_KEY);
    }

    async signIn(username, password) {
      const tokens = await this.send("POST", "/api/v1/auth/token", { body: { username, password }, auth: false });
      this.store(tokens);
    }

    async signOut() {
      const session = this.session;
      this.clear();
      if (session) {
        try {
          await this.send("POST", "/api/v1/auth/logout", { body: { refresh_token: session.refresh_token }, auth: false });
        } catch (e) {
          /* signed out here whatever the server says */
        }
      }
    }

    refresh() {
      if (!this.session) return Promise.reject(new ApiError(401, { code: "invalid_refresh_token" }));
      if (!this.refreshing) {
        const token = this.session.refresh_token;
        this.refreshing = this.send("POST", "/api/v1/auth/refresh", { body: { refresh_token: token }, auth: false })
          .then((tokens) => this.store(tokens))
          .catch((error) => {
            if (error instanceof ApiError) {
              this.clear();
              this.onSignedOut();
            }
            throw error;
          })
          .finally(() => {
            this.refreshing = null;
          });
      }
      return this.refreshing;
    }

    /* method, path, {query, body, key}: the answer's JSON (null when empty); ApiError or NetworkError otherwise. */
    async request(method, path, options = {}) {
      const given = method === "POST" ? options.key || newKey() : null;
      // A refused write (4xx) is the stored answer to its key: once the operator corrects the form, the dialog's
      // key must not replay the refusal, so the next press goes out under a fresh key.
      const key = given && this.renewedKeys.has(given) ? this.renewedKeys.get(given) : given;
      const opts = Object.assign({}, options, { key });
      try {
        return await this.send(method, path, opts);
      } catch (error) {
        if (error instanceof ApiError && error.status === 401 && this.session) {
          await this.refresh();
          return this.send(method, path, opts); // the same Idempotency-Key: a retried write happens once
        }
        if (error instanceof ApiError && error.status === 401) this.onSignedOut();
        if (given && error instanceof ApiError && error.status >= 400 && error.status < 500 && !KEEP_KEY.has(error.code)) {
          this.renewedKeys.set(given, newKey());
        }
        throw error;
      }
    }

    get(path, query) {
      return this.request("GET", path, { query });
    }

    post(path, body, key) {
      return this.request("POST", path, { body: body === undefined ? {} : body, key });
    }

    async send(method, path, { query, body, key, auth = true } = {}) {
      let url = path;
      if (query) {
        const params = new URLSearchParams();
        for (const [name, value] of Object.entries(query)) {
          if (value !== undefined && value !== null && value !== "") params.append(name, String(value));
        }
        const text = params.toString();
        if (text) url += "?" + text;
      }
      const headers = { Accept: "application/json, application/problem+json" };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      if (key) headers["Idempotency-Key"] = key;
      if (auth && this.session) headers["Authorization"] = "Bearer " + this.session.access_token;
      let response;
      try {
        response = await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          cache: "no-store",
          credentials: "omit",
        });
      } catch (e) {
        throw new NetworkError(String(e));
      }
      const text = await response.text();
      let data = null;
      if (text) {
        try {
          data = JSON.parse(text);
        } catch (e) {
          data = null;
        }
      }
      if (!response.ok) throw new ApiError(response.status, data);
      return data;
    }
  }

  window.LinliApi = { Api, ApiError, NetworkError, newKey };
})();
