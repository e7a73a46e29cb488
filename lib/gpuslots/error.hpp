// Errors as values: every library call that can fail returns Result<T>, and the front-ends
// (CLI, SPANK plugin) decide what an error means for them (an exit code, a drained node or a
// failed job). The message is written for the person who has to act on it: it says what was
// wrong and, where there is one, what to do.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "gpuslots/text.hpp"

namespace gpuslots {

enum class Errc {
    bad_input,   // a request that can never succeed as written (syntax, range, unknown server)
    no_fit,      // well-formed, but the slots are not free right now
    not_found,   // no such reservation
    conflict,    // the task id already holds a reservation
    config,      // the configuration is missing or invalid
    ledger,      // the ledger cannot be opened, is damaged, or breaks an invariant
    busy,        // the ledger stayed locked by another process for longer than allowed
    unreachable,  // the ledger's database server did not answer within its time-outs (down,
                  // unreachable, shutting down, out of connections): nothing was changed,
                  // unless the answer to a COMMIT was what got lost
    permission,  // the caller may not do this (not root / not the owner)
    internal,    // a bug: an exception that should not have happened
};

// A short, stable name for an error class, used in logs and JSON ("no_fit").
const char* errc_name(Errc code);

// `text` in single quotes, safe to put in a one-line message: control characters, quotes and
// bytes outside printable ASCII are escaped ("a\nb" -> 'a\x0ab').
std::string in_quotes(std::string_view text);

// The same for a text that may be long: beyond `limit` bytes only its start is shown, followed
// by its length ("'n[0-9]xxxx'... (100006 bytes)"), so that one long value cannot make a
// message unreadable.
std::string in_quotes(std::string_view text, std::size_t limit);

struct Error {
    Errc code;
    std::string message;
};

// The message is made through tr(): translated in the admin tool, as written in the plugin.
template <typename... Args>
Error make_error(Errc code, fmt::format_string<Args...> format, Args&&... args) {
    return Error{code, tr(format, std::forward<Args>(args)...)};
}

// Either a value or an Error. Deliberately small: ok(), value(), error(), and -> / *.
template <typename T>
class [[nodiscard]] Result {
  public:
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
    Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(state_); }
    const T& value() const& { return std::get<0>(state_); }
    T&& value() && { return std::get<0>(std::move(state_)); }
    const Error& error() const { return std::get<1>(state_); }

    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

  private:
    std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
  public:
    Result() = default;
    Result(Error error) : error_(std::move(error)) {}  // NOLINT: implicit

    bool ok() const { return !error_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return *error_; }

  private:
    std::optional<Error> error_;
};

}  // namespace gpuslots
