// The one translation unit holding Beast's compiled implementation
// (BOOST_BEAST_SEPARATE_COMPILATION).
#include <boost/beast/src.hpp>
