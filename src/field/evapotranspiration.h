// Daily reference evapotranspiration (ET0, mm/day) by Hargreaves from the
// day's air temperatures, FAO-56 eq. 52, with the extraterrestrial radiation
// Ra of eq. 21 from latitude and day of the year. It needs nothing but a
// thermometer, which is what a field device has.
// Thread-safety: pure functions.
#pragma once

namespace canopy::field {

// Ra in MJ m⁻² day⁻¹; `day_of_year` is 1..366, latitude in degrees (south negative).
double extraterrestrial_radiation(double latitude_deg, int day_of_year);

// ET0 in mm/day; 0 when the day's range is not positive.
double hargreaves_et0(double t_min_c, double t_max_c, double latitude_deg, int day_of_year);

}  // namespace canopy::field
