// onboard/cli/json_text.hpp: the JSON the commands print (plan, the run summary, journal
// status) as text people and scripts read.
//
//   #include <iostream>
//   boost::json::object o{{"rate", 10.0}, {"estimated_seconds", 0.4}};
//   std::cout << onboard::json_text(o) << "\n";   // {"rate":10.0,"estimated_seconds":0.4}
//
// The same as boost::json::serialize except for doubles: Boost writes them in exponent form
// (1E1, 4E-1, 5.126014E-3). That is valid JSON, but not what anyone expects to see for a rate or
// a duration. Here a double is the shortest decimal that reads back as the same double, with a
// ".0" kept on whole numbers so that it still parses as a floating-point number (10.0, not 10).
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace onboard {

// json_text: `v` as compact JSON text (no spaces), doubles in plain decimal form; non-finite
// doubles, which JSON cannot express, are written as null.
std::string json_text(const boost::json::value& v);

}  // namespace onboard
