# Sources each unit test links besides libkgcommon, one line per test:
#   test_<name>_SRCS := services/kerbgated/<file>.c ...
test_http_SRCS := services/kerbgated/http.c
test_replay_SRCS := services/kerbgated/replay.c
test_tls_SRCS := services/kerbgated/tls.c tests/unit/certgen.c
test_tlskey_SRCS := services/kerbgated/tlskey.c services/kerbgated/secretstore.c services/kerbgated/sealedstore.c services/kerbgated/credstore.c services/kerbgated/tls.c services/kerbgated/sandbox.c tests/unit/certgen.c
test_sign_SRCS := services/kerbgated/sign.c services/kerbgated/hmac256.c
test_metrics_SRCS := services/kerbgated/metrics.c services/kerbgated/khproto.c
test_conf_SRCS := services/kerbgated/conf.c
test_acceptor_SRCS := services/kerbgated/acceptor.c services/kerbgated/kcrypto.c services/kerbgated/negotiate.c services/kerbgated/replay.c tests/unit/krbmint.c bench/kgbench_pac.c
test_negotiate_SRCS := services/kerbgated/negotiate.c tests/unit/krbmint.c
test_kcd_SRCS := services/kerbgated/kcd.c services/kerbgated/acceptor.c services/kerbgated/kcrypto.c services/kerbgated/negotiate.c services/kerbgated/replay.c tests/unit/krbmint.c tests/unit/certgen.c
test_khproto_SRCS := services/kerbgated/khproto.c
test_keyholder_SRCS := services/kerbgated/keyholder.c services/kerbgated/grant.c services/kerbgated/sign.c services/kerbgated/hmac256.c services/kerbgated/credctl.c services/kerbgated/secretctl.c services/kerbgated/secretstore.c services/kerbgated/tlscheck.c services/kerbgated/credstore.c services/kerbgated/credkeys.c services/kerbgated/sealedstore.c services/kerbgated/ctlproto.c services/kerbgated/sandbox.c services/kerbgated/kcd.c services/kerbgated/khproto.c services/kerbgated/conf.c services/kerbgated/acceptor.c services/kerbgated/kcrypto.c services/kerbgated/negotiate.c services/kerbgated/replay.c tests/unit/krbmint.c
test_kcrypto_SRCS := services/kerbgated/kcrypto.c

# test_acceptor mints PAC-bearing tickets with the benchmark's PAC builder.
$(OBJDIR)/tests/unit/test_acceptor.o: INCLUDES += -Ibench -Itests/unit
$(OBJDIR)/bench/kgbench_pac.o: INCLUDES += -Itests/unit
test_hmac256_SRCS := services/kerbgated/hmac256.c
test_reqfilter_SRCS := services/kerbgated/reqfilter.c
test_sandbox_SRCS := services/kerbgated/sandbox.c
test_bootstate_SRCS := firmware/bootstate/bootstate.c
test_credkeys_SRCS := services/kerbgated/credkeys.c services/kerbgated/sealedstore.c
test_sealedstore_SRCS := services/kerbgated/sealedstore.c
test_credstore_SRCS := services/kerbgated/credstore.c services/kerbgated/sealedstore.c
test_secretstore_SRCS := services/kerbgated/secretstore.c services/kerbgated/credstore.c services/kerbgated/sealedstore.c
test_ctlproto_SRCS := services/kerbgated/ctlproto.c
test_credctl_SRCS := services/kerbgated/credctl.c services/kerbgated/secretctl.c services/kerbgated/secretstore.c services/kerbgated/tlscheck.c services/kerbgated/grant.c services/kerbgated/sign.c services/kerbgated/hmac256.c services/kerbgated/credstore.c services/kerbgated/credkeys.c services/kerbgated/sealedstore.c services/kerbgated/ctlproto.c services/kerbgated/acceptor.c services/kerbgated/kcrypto.c services/kerbgated/negotiate.c services/kerbgated/replay.c services/kerbgated/kcd.c tests/unit/krbmint.c
$(OBJDIR)/tests/unit/test_credctl.o: INCLUDES += -Itests/unit
test_api_SRCS := services/mgmtd/api.c services/kerbgated/ctlproto.c
test_control_SRCS := services/kerbgated/control.c services/kerbgated/ctlproto.c services/kerbgated/sealedstore.c
test_credpkg_SRCS :=
test_pkgout_SRCS := tools/roll/pkgout.c
test_pullstate_SRCS := services/smbpull/pullstate.c
$(OBJDIR)/tests/unit/test_pullstate.o: INCLUDES += -Iservices/smbpull
test_ctlclient_SRCS := services/mgmtd/ctlclient.c services/kerbgated/ctlproto.c
test_webauth_SRCS := services/mgmtd/session.c services/mgmtd/ratelimit.c services/mgmtd/webpass.c services/mgmtd/webparse.c services/mgmtd/keytab.c
