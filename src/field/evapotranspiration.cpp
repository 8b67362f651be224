#include "field/evapotranspiration.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace canopy::field {

double extraterrestrial_radiation(double latitude_deg, int day_of_year) {
  constexpr double kSolarConstant = 0.0820;  // MJ m⁻² min⁻¹
  const double phi = latitude_deg * std::numbers::pi / 180.0;
  const double j = static_cast<double>(day_of_year);
  const double dr = 1 + 0.033 * std::cos(2 * std::numbers::pi / 365 * j);        // eq. 23
  const double delta = 0.409 * std::sin(2 * std::numbers::pi / 365 * j - 1.39);  // eq. 24
  // eq. 25; clamped for the polar day and night, where the sun never sets or rises.
  const double ws = std::acos(std::clamp(-std::tan(phi) * std::tan(delta), -1.0, 1.0));
  return 24 * 60 / std::numbers::pi * kSolarConstant * dr *
         (ws * std::sin(phi) * std::sin(delta) + std::cos(phi) * std::cos(delta) * std::sin(ws));
}

double hargreaves_et0(double t_min_c, double t_max_c, double latitude_deg, int day_of_year) {
  if (!(t_max_c > t_min_c)) return 0;
  const double t_mean = (t_max_c + t_min_c) / 2;
  // 0.408 turns MJ m⁻² day⁻¹ into mm/day of evaporated water.
  const double et0 = 0.0023 * (t_mean + 17.8) * std::sqrt(t_max_c - t_min_c) * 0.408 *
                     extraterrestrial_radiation(latitude_deg, day_of_year);
  return std::max(0.0, et0);
}

}  // namespace canopy::field
