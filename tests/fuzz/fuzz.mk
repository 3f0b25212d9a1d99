# Sources each fuzz target links besides libkgcommon's sources, and extra
# libraries, one line each per target:
#   fuzz_<name>_SRCS := services/kerbgated/<file>.c ...
#   fuzz_<name>_LIBS := -lhttp_parser
