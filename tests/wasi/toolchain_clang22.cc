clang-22
