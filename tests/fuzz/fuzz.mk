# Sources each fuzz target links besides libkgcommon's sources, and extra
# libraries, one line each per target:
#   fuzz_<name>_SRCS := services/kerbgated/<file>.c ...
#   fuzz_<name>_LIBS := -lhttp_parser
fuzz_http_head_SRCS := services/kerbgated/http.c
fuzz_http_body_SRCS := services/kerbgated/http.c
fuzz_http_diff_SRCS := services/kerbgated/http.c
fuzz_http_diff_LIBS := -lhttp_parser
fuzz_cookie_SRCS := services/kerbgated/sign.c services/kerbgated/hmac256.c
fuzz_negotiate_SRCS := services/kerbgated/negotiate.c services/kerbgated/acceptor.c services/kerbgated/kcrypto.c services/kerbgated/replay.c tests/unit/krbmint.c
fuzz_http_headers_SRCS := services/kerbgated/http.c services/kerbgated/conf.c services/kerbgated/sign.c services/kerbgated/hmac256.c services/kerbgated/negotiate.c
fuzz_khproto_SRCS := services/kerbgated/khproto.c
fuzz_reqfilter_SRCS := services/kerbgated/reqfilter.c
fuzz_bootstate_SRCS := firmware/bootstate/bootstate.c
fuzz_sealedstore_SRCS := services/kerbgated/credstore.c services/kerbgated/sealedstore.c services/kerbgated/secretstore.c
fuzz_ctlproto_SRCS := services/kerbgated/ctlproto.c
fuzz_api_SRCS := services/mgmtd/api.c services/kerbgated/ctlproto.c
fuzz_tlskey_SRCS := services/kerbgated/tlskey.c services/kerbgated/secretstore.c services/kerbgated/sealedstore.c services/kerbgated/credstore.c services/kerbgated/tls.c services/kerbgated/sandbox.c
fuzz_credpkg_SRCS :=
fuzz_webparse_SRCS := services/mgmtd/webparse.c services/mgmtd/keytab.c services/kerbgated/http.c
fuzz_web_SRCS := services/mgmtd/web.c services/mgmtd/session.c services/mgmtd/ratelimit.c services/mgmtd/webpass.c services/mgmtd/webparse.c services/mgmtd/keytab.c services/mgmtd/status.c services/mgmtd/upload.c services/mgmtd/devcert.c services/mgmtd/audit.c services/mgmtd/api.c services/kerbgated/ctlproto.c services/kerbgated/http.c
