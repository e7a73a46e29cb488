// The plugin's plugstack.conf arguments: strict key=value parsing.
#define BOOST_TEST_MODULE plugstack
#include <boost/test/unit_test.hpp>

#include "gpuslots/plugstack.hpp"

using namespace gpuslots;

BOOST_AUTO_TEST_CASE(no_arguments_means_the_default_lookup) {
    auto args = parse_plugin_args({});
    BOOST_TEST_REQUIRE(args.ok());
    BOOST_TEST(!args->config.has_value());
}

BOOST_AUTO_TEST_CASE(config_takes_an_absolute_path) {
    auto args = parse_plugin_args({"config=/etc/gpuslots/gpuslots.yaml"});
    BOOST_TEST_REQUIRE(args.ok());
    BOOST_TEST(*args->config == "/etc/gpuslots/gpuslots.yaml");
}

BOOST_AUTO_TEST_CASE(record_dir_takes_an_absolute_path) {
    auto args = parse_plugin_args({"record_dir=/tmp/x", "config=/etc/g.yaml"});
    BOOST_TEST_REQUIRE(args.ok());
    BOOST_TEST(args->record_dir.value_or("") == "/tmp/x");
    BOOST_TEST(args->config.value_or("") == "/etc/g.yaml");
    BOOST_TEST(!parse_plugin_args({})->record_dir.has_value());
}

BOOST_AUTO_TEST_CASE(anything_else_is_an_error_naming_it) {
    struct Case {
        std::vector<std::string> args;
        const char* phrase;
    };
    const std::vector<Case> cases = {
        {{"conf=/x"}, "unknown argument 'conf=/x' (allowed: config=FILE, record_dir=DIR)"},
        {{"record_dir=run/gpuslots"}, "record_dir= needs an absolute path, got 'run/gpuslots'"},
        {{"record_dir=/a", "record_dir=/a"}, "'record_dir=' is given twice"},
        {{"record_dir"}, "unknown argument 'record_dir'"},
        {{"config"}, "unknown argument 'config'"},
        {{"verbose"}, "unknown argument 'verbose'"},
        {{"config="}, "config= needs an absolute path"},
        {{"config=relative.yaml"}, "config= needs an absolute path, got 'relative.yaml'"},
        {{"config=/a", "config=/b"}, "'config=' is given twice"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.phrase) {
            auto args = parse_plugin_args(c.args);
            BOOST_TEST_REQUIRE(!args.ok());
            BOOST_TEST((args.error().code == Errc::config));
            BOOST_TEST(args.error().message.find(c.phrase) != std::string::npos,
                       args.error().message);
            BOOST_TEST(args.error().message.rfind("plugstack.conf: ", 0) == 0U);
        }
    }
}

// Slurm splits the plugstack line at white space only: any other byte can reach an argument,
// and the error that quotes it must stay one printable line.
BOOST_AUTO_TEST_CASE(arguments_are_quoted_escaped_in_errors) {
    struct Case {
        std::vector<std::string> args;
        const char* phrase;
    };
    const std::vector<Case> cases = {
        {{"conf\x9b=/x"}, "unknown argument 'conf\\x9b=/x'"},
        {{"conf=/x\ny"}, "unknown argument 'conf=/x\\x0ay'"},
        {{"config=rel\x01"}, "config= needs an absolute path, got 'rel\\x01'"},
        {{"config=it's"}, "got 'it\\x27s'"},
    };
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(c.phrase) {
            auto args = parse_plugin_args(c.args);
            BOOST_TEST_REQUIRE(!args.ok());
            const std::string& m = args.error().message;
            BOOST_TEST(m.find(c.phrase) != std::string::npos, in_quotes(m));
            for (char ch : m) {
                const auto u = static_cast<unsigned char>(ch);
                BOOST_TEST((u >= 0x20 && u < 0x7f), in_quotes(m));
            }
        }
    }
}
