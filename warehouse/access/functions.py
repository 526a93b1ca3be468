"""What an analyst statement may call: explicit allow-lists, checked on DuckDB's parse tree.

Anything not named here is refused, so a function DuckDB adds in a later release stays out until
someone reads it and lists it. Left out on purpose: catalogue and metadata functions (current_*,
pg_*, has_*_privilege, col_description, in_search_path, version, user, …), settings and variables
(current_setting, getvariable), sequences, files and paths (read_*, glob, parse_path, …), logging,
plan and statement serialisers (json_serialize_plan shows table names), sleeps, errors, aggregate
state internals, and the platform's own pseudonym function.
"""

from __future__ import annotations

_TEXT = """
ascii bar base64 bit_length char_length character_length chr concat concat_ws contains damerau_levenshtein
editdist3 ends_with format from_base64 from_hex hamming hex instr jaccard jaro_similarity jaro_winkler_similarity
lcase left left_grapheme len length length_grapheme levenshtein like_escape ilike_escape not_like_escape
not_ilike_escape lower lpad ltrim md5 md5_number mismatches nfc_normalize octet_length ord position prefix
printf regexp_escape regexp_extract regexp_extract_all regexp_full_match regexp_matches regexp_replace
regexp_split_to_array repeat replace reverse right right_grapheme rpad rtrim sha1 sha256 split split_part
starts_with str_split str_split_regex string_split string_split_regex string_to_array strip_accents strlen
strpos substr substring substring_grapheme suffix to_base64 to_hex translate trim ucase unbin unhex unicode
upper url_decode url_encode bin encode decode format_bytes formatreadablesize formatreadabledecimalsize
"""
_NUMBER = """
abs acos acosh add asin asinh atan atan2 atanh bit_count cbrt ceil ceiling cos cosh cot degrees divide even
exp factorial fdiv fmod gamma gcd greatest greatest_common_divisor isfinite isinf isnan lcm least
least_common_multiple lgamma ln log log10 log2 mod multiply nextafter pi pow power radians random round
round_even roundbankers sign signbit sin sinh sqrt subtract tan tanh trunc xor hash equi_width_bins
"""
_TIME = """
age ago century date_add date_diff date_part date_sub date_trunc datediff datepart datesub datetrunc day
dayname dayofmonth dayofweek dayofyear days_in_month decade epoch epoch_ms epoch_ns epoch_us era hour isodow
isoyear julian last_day make_date make_time make_timestamp make_timestamptz make_timestamp_ms
make_timestamp_ns microsecond millennium millisecond minute month monthname nanosecond normalized_interval
quarter second strftime strptime time_bucket timezone timezone_hour timezone_minute to_centuries to_days
to_decades to_hours to_microseconds to_millennia to_milliseconds to_minutes to_months to_quarters
to_seconds to_timestamp to_weeks to_years try_strptime week weekday weekofyear year yearweek current_date
today now get_current_time get_current_timestamp transaction_timestamp current_localtime
current_localtimestamp
"""
_LIST_MAP_STRUCT = """
array_agg array_append array_apply array_cat array_concat array_contains array_distinct array_extract
array_filter array_has array_has_all array_has_any array_indexof array_intersect array_length array_pop_back
array_pop_front array_position array_prepend array_push_back array_push_front array_reduce array_reverse
array_reverse_sort array_select array_slice array_sort array_to_string array_transform array_unique
array_value array_where array_zip cardinality element_at filter flatten generate_series generate_subscripts
list list_aggr list_aggregate list_any_value list_append list_apply list_avg list_bool_and list_bool_or
list_cat list_concat list_contains list_count list_distinct list_element list_extract list_filter list_first
list_has list_has_all list_has_any list_indexof list_intersect list_last list_max list_median list_min
list_mode list_pack list_position list_prepend list_product list_reduce list_resize list_reverse
list_reverse_sort list_select list_slice list_sort list_stddev_pop list_stddev_samp list_string_agg list_sum
list_transform list_unique list_value list_var_pop list_var_samp list_where list_zip range reduce unnest
map map_concat map_contains map_entries map_extract map_extract_value map_from_entries map_keys map_values
row struct_concat struct_contains struct_extract struct_extract_at struct_has struct_insert struct_keys
struct_pack struct_position struct_update struct_values union_extract union_tag union_value
json json_array json_array_length json_contains json_exists json_extract json_extract_path
json_extract_path_text json_extract_string json_group_array json_group_object json_keys json_merge_patch
json_object json_pretty json_quote json_remove json_set json_strip_nulls json_structure json_transform
json_type json_valid json_value to_json from_json array_to_json row_to_json
"""
_AGGREGATE_WINDOW = """
any_value approx_count_distinct approx_quantile approx_top_k arbitrary arg_max arg_max_null arg_min
arg_min_null argmax argmin avg bit_and bit_or bit_xor bool_and bool_or corr count count_if count_star
countif covar_pop covar_samp entropy favg first fsum geomean geometric_mean group_concat histogram
histogram_exact kahan_sum kurtosis kurtosis_pop last listagg mad max max_by mean median min min_by mode
product quantile quantile_cont quantile_disc regr_avgx regr_avgy regr_count regr_intercept regr_r2
regr_slope regr_sxx regr_sxy regr_syy reservoir_quantile sem skewness stddev stddev_pop stddev_samp
string_agg sum sumkahan var_pop var_samp variance wavg weighted_avg
cume_dist dense_rank first_value lag last_value lead nth_value ntile percent_rank rank rank_dense row_number
"""
_OTHER = """
coalesce ifnull nullif if constant_or_null typeof uuid gen_random_uuid uuidv4 uuidv7 enum_code enum_first
enum_last enum_range grade_up
"""

SCALAR_AND_AGGREGATE_FUNCTIONS: frozenset[str] = frozenset(
    " ".join((_TEXT, _NUMBER, _TIME, _LIST_MAP_STRUCT, _AGGREGATE_WINDOW, _OTHER)).split()
)

# Operators arrive as functions marked is_operator (DuckDB's parser spells them as below).
OPERATORS: frozenset[str] = frozenset(
    {
        "+",
        "-",
        "*",
        "/",
        "//",
        "%",
        "**",
        "^",
        "||",
        "&",
        "|",
        "~",
        "<<",
        ">>",
        "@",
        "=",
        "!=",
        "<>",
        "<",
        "<=",
        ">",
        ">=",
        "<=>",
        "~~",
        "!~~",
        "~~*",
        "!~~*",
        "~~~",
        "^@",
        "->>",
        "->",
        "@>",
        "<@",
        "&&",
        "!__postfix",
        "array_extract",
        "array_slice",
        "struct_extract",
    }
)

# Table functions that generate rows and touch no catalogue, file or other database.
TABLE_FUNCTIONS: frozenset[str] = frozenset({"range", "generate_series", "unnest"})

# Names no CTE may take: DuckDB resolves a CTE before the catalogue, so `WITH duckdb_tables AS …`
# would read like the system view to anyone checking names alone. Checked besides the list of every
# function and system view name (see statement.system_names).
SYSTEM_PREFIXES: tuple[str, ...] = ("duckdb_", "pg_", "sqlite_", "pragma_", "information_schema", "__")
