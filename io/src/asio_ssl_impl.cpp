// The one translation unit holding Asio SSL's compiled implementation.
#include <boost/asio/ssl/impl/src.hpp>
