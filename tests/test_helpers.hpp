// Small helpers shared by the test suites.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "tapegrad/autograd/error.hpp"

namespace test_helpers {

// The message of the tapegrad::Error thrown by f; fails the test if none is thrown.
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const tapegrad::Error& e) {
    return e.what();
  }
  FAIL_CHECK("expected a tapegrad::Error");
  return {};
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace test_helpers
