import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bypassProxy, ProxyConfigError, proxyFor } from "../../../scaler/openstack/proxy";

describe("NO_PROXY, as requests reads it", () => {
  const rows: { url: string; noProxy: string; bypass: boolean }[] = [
    { url: "https://keystone.example.com:5000/v3", noProxy: "", bypass: false },
    { url: "https://keystone.example.com:5000/v3", noProxy: "*", bypass: true },
    { url: "https://keystone.example.com:5000/v3", noProxy: "keystone.example.com", bypass: true },
    { url: "https://keystone.example.com:5000/v3", noProxy: "example.com", bypass: true },
    { url: "https://keystone.example.com:5000/v3", noProxy: ".example.com", bypass: true },
    { url: "https://keystone.example.com:5000/v3", noProxy: "*.example.com", bypass: true },
    { url: "https://keystone.example.com:5000/v3", noProxy: "EXAMPLE.COM", bypass: true },
    { url: "https://keystone.badexample.com:5000/v3", noProxy: "example.com", bypass: false },
    { url: "https://keystone.example.com:5000/v3", noProxy: "localhost, example.com:5000", bypass: true },
    { url: "https://keystone.example.com:5000/v3", noProxy: "example.com:443", bypass: false },
    { url: "https://10.20.20.1:5000/v3", noProxy: "10.0.0.0/8", bypass: true },
    { url: "https://10.20.20.1:5000/v3", noProxy: "10.20.20.1", bypass: true },
    { url: "https://10.20.20.1:5000/v3", noProxy: "192.168.0.0/16,10.20.20.0/30", bypass: true },
    { url: "https://10.20.20.1:5000/v3", noProxy: "192.168.0.0/16", bypass: false },
    { url: "https://10.20.20.1:5000/v3", noProxy: "10.0.0.0/nope", bypass: false },
    { url: "http://[fd00::5]:9090/", noProxy: "fd00::/8", bypass: true },
    { url: "http://[fd00::5]:9090/", noProxy: "[fd00::5]", bypass: true },
  ];
  for (const r of rows) {
    it(`${r.url} with NO_PROXY=${JSON.stringify(r.noProxy)} → ${r.bypass ? "direct" : "proxy"}`, () => {
      assert.equal(bypassProxy(new URL(r.url), r.noProxy), r.bypass);
    });
  }
});

describe("which proxy a URL goes through", () => {
  const https = new URL("https://keystone.example.com:5000/v3");
  const http = new URL("http://prometheus.example.com:9090/api/v1/query");
  const rows: { name: string; url: URL; env: NodeJS.ProcessEnv; want: string | undefined | RegExp }[] = [
    { name: "none set", url: https, env: {}, want: undefined },
    { name: "HTTPS_PROXY for https", url: https, env: { HTTPS_PROXY: "http://p:3128" }, want: "http://p:3128/" },
    {
      name: "lower case wins",
      url: https,
      env: { https_proxy: "http://a:1", HTTPS_PROXY: "http://b:2" },
      want: "http://a:1/",
    },
    { name: "HTTPS_PROXY is not for http", url: http, env: { HTTPS_PROXY: "http://p:3128" }, want: undefined },
    { name: "HTTP_PROXY for http", url: http, env: { HTTP_PROXY: "http://p:3128" }, want: "http://p:3128/" },
    { name: "ALL_PROXY as the fallback", url: https, env: { ALL_PROXY: "http://all:8080" }, want: "http://all:8080/" },
    {
      name: "no scheme means http://, as for curl",
      url: https,
      env: { HTTPS_PROXY: "p.corp:3128" },
      want: "http://p.corp:3128/",
    },
    {
      name: "NO_PROXY exempts",
      url: https,
      env: { HTTPS_PROXY: "http://p:3128", NO_PROXY: "example.com" },
      want: undefined,
    },
    {
      name: "an https:// proxy is refused, naming the variable",
      url: https,
      env: { HTTPS_PROXY: "https://p:3128" },
      want: /HTTPS_PROXY names a https:\/\/ proxy: only http:\/\/ proxies are supported.*write http:\/\/p:3128/,
    },
    {
      name: "a socks proxy is refused",
      url: https,
      env: { ALL_PROXY: "socks5://p:1080" },
      want: /ALL_PROXY names a socks5:\/\/ proxy/,
    },
    { name: "not a URL", url: https, env: { https_proxy: "http://[nope" }, want: /https_proxy is not a URL/ },
  ];
  for (const r of rows) {
    it(r.name, () => {
      if (r.want instanceof RegExp) {
        assert.throws(
          () => proxyFor(r.url, r.env),
          (e: Error) => e instanceof ProxyConfigError && r.want instanceof RegExp && r.want.test(e.message),
        );
      } else {
        assert.equal(proxyFor(r.url, r.env)?.href, r.want);
      }
    });
  }
});
