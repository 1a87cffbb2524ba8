//! BenchmarkService served with the vgi-rpc crate: method registrations by
//! hand (MethodInfo), so every schema (names, types, nullable flags) is the
//! one written here.
//!
//! Unary params and results follow the Python reference's inference for
//! non-optional hints (nullable = false, result column "result"); stream
//! schemas are nullable, like pyarrow's `pa.field` default, bench/py/worker.py
//! and bench/service.ts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::types::{Float64Type, Int16Type, Int32Type, Int8Type};
use arrow_buffer::ArrowNativeType;
use arrow_array::{
    Array, ArrayRef, BinaryArray, DictionaryArray, Float64Array, Int64Array, LargeBinaryArray, ListArray,
    MapArray, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use vgi_rpc::stream::{ExchangeState, OutputCollector, ProducerState, StreamResult, StreamStateKind};
use vgi_rpc::{CallContext, MethodInfo, MethodType, Request, Result, RpcError, RpcServer};

pub fn generate_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int64, true),
        Field::new("value", DataType::Int64, true),
    ]))
}

pub fn large_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int64, true),
        Field::new("value", DataType::Float64, true),
    ]))
}

pub fn transform_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("value", DataType::Float64, true)]))
}

fn schema(fields: Vec<Field>) -> SchemaRef {
    Arc::new(Schema::new(fields))
}

fn result_schema(dt: DataType) -> SchemaRef {
    schema(vec![Field::new("result", dt, false)])
}

/// The batch generate_batches emits: i = 0..rows-1, value = i * 0.5.
pub fn large_batch(rows: usize) -> RecordBatch {
    let i: Int64Array = (0..rows as i64).collect();
    let value: Float64Array = (0..rows).map(|k| k as f64 * 0.5).collect();
    RecordBatch::try_new(large_schema(), vec![Arc::new(i), Arc::new(value)]).expect("large batch")
}

/// One prebuilt batch per row count, shared across calls (as the Python worker's cache).
fn cached_large_batch(rows: usize) -> RecordBatch {
    static CACHE: OnceLock<Mutex<HashMap<usize, RecordBatch>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut m = cache.lock().unwrap_or_else(|e| e.into_inner());
    m.entry(rows).or_insert_with(|| large_batch(rows)).clone()
}

// ------------------------------------------------------------ param readers

fn col<'a>(req: &'a Request, name: &str) -> Result<&'a dyn Array> {
    let c = req
        .column(name)
        .ok_or_else(|| RpcError::type_error(format!("missing parameter {name:?}")))?;
    if c.is_empty() {
        return Err(RpcError::type_error(format!("parameter {name:?}: empty batch")));
    }
    Ok(c)
}

fn f64_param(req: &Request, name: &str) -> Result<f64> {
    let c = col(req, name)?;
    if let Some(a) = c.as_any().downcast_ref::<Float64Array>() {
        return Ok(a.value(0));
    }
    if let Some(a) = c.as_any().downcast_ref::<Int64Array>() {
        return Ok(a.value(0) as f64);
    }
    Err(RpcError::type_error(format!("parameter {name:?}: expected float64, got {}", c.data_type())))
}

fn i64_param(req: &Request, name: &str) -> Result<i64> {
    let c = col(req, name)?;
    if let Some(a) = c.as_any().downcast_ref::<Int64Array>() {
        return Ok(a.value(0));
    }
    Err(RpcError::type_error(format!("parameter {name:?}: expected int64, got {}", c.data_type())))
}

fn string_at(c: &dyn Array, idx: usize) -> Result<String> {
    if let Some(s) = c.as_any().downcast_ref::<StringArray>() {
        return Ok(s.value(idx).to_string());
    }
    fn dict_value<K: arrow_array::types::ArrowDictionaryKeyType>(c: &dyn Array, idx: usize) -> Option<String> {
        let d = c.as_any().downcast_ref::<DictionaryArray<K>>()?;
        let key = d.keys().values()[idx].as_usize();
        let values = d.values().as_any().downcast_ref::<StringArray>()?;
        Some(values.value(key).to_string())
    }
    dict_value::<Int8Type>(c, idx)
        .or_else(|| dict_value::<Int16Type>(c, idx))
        .or_else(|| dict_value::<Int32Type>(c, idx))
        .ok_or_else(|| RpcError::type_error(format!("expected utf8 or dictionary<_, utf8>, got {}", c.data_type())))
}

fn unary_result(schema: &SchemaRef, value: ArrayRef) -> Result<Option<RecordBatch>> {
    Ok(Some(RecordBatch::try_new(schema.clone(), vec![value])?))
}

// ------------------------------------------------------------ stream states

/// generate(count): one one-row batch {i, value = i*10} per tick.
struct Generate {
    count: i64,
    current: i64,
}

impl ProducerState for Generate {
    fn produce(&mut self, out: &mut OutputCollector, _ctx: &CallContext) -> Result<()> {
        if self.current >= self.count {
            out.finish();
            return Ok(());
        }
        let i = Int64Array::from(vec![self.current]);
        let v = Int64Array::from(vec![self.current * 10]);
        out.emit(RecordBatch::try_new(out.schema(), vec![Arc::new(i), Arc::new(v)])?)?;
        self.current += 1;
        Ok(())
    }
    fn encode_state(&self) -> Result<Vec<u8>> {
        Ok(encode_i64s(&[self.count, self.current]))
    }
}

/// generate_batches(count, rows): the same prebuilt batch, `count` times.
struct GenerateBatches {
    count: i64,
    rows: i64,
    current: i64,
    batch: RecordBatch,
}

impl ProducerState for GenerateBatches {
    fn produce(&mut self, out: &mut OutputCollector, _ctx: &CallContext) -> Result<()> {
        if self.current >= self.count {
            out.finish();
            return Ok(());
        }
        out.emit(self.batch.clone())?;
        self.current += 1;
        Ok(())
    }
    fn encode_state(&self) -> Result<Vec<u8>> {
        Ok(encode_i64s(&[self.count, self.rows, self.current]))
    }
}

/// transform(factor): each input batch answered by one batch of value*factor.
struct Transform {
    factor: f64,
    out_schema: SchemaRef,
}

impl ExchangeState for Transform {
    fn exchange(&mut self, input: &RecordBatch, out: &mut OutputCollector, _ctx: &CallContext) -> Result<()> {
        let c = input
            .column_by_name("value")
            .ok_or_else(|| RpcError::type_error("transform: input has no column \"value\""))?;
        let v = c
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| RpcError::type_error(format!("transform: value is {}, expected float64", c.data_type())))?;
        let f = self.factor;
        let scaled: Float64Array = v.unary::<_, Float64Type>(|x| x * f);
        out.emit(RecordBatch::try_new(self.out_schema.clone(), vec![Arc::new(scaled)])?)
    }
    fn encode_state(&self) -> Result<Vec<u8>> {
        Ok(self.factor.to_le_bytes().to_vec())
    }
}

// The HTTP transport carries stream state in a sealed token: a few
// little-endian integers suffice for these states.
fn encode_i64s(v: &[i64]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn decode_i64s(b: &[u8], n: usize) -> Result<Vec<i64>> {
    if b.len() != n * 8 {
        return Err(RpcError::runtime_error(format!("bad state: {} bytes, expected {}", b.len(), n * 8)));
    }
    Ok(b.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().unwrap())).collect())
}

fn rows_usize(rows: i64) -> Result<usize> {
    usize::try_from(rows).map_err(|_| RpcError::value_error(format!("rows must be >= 0, got {rows}")))
}

// ------------------------------------------------------------ roundtrip_types

/// Python's repr of a str (the common case: single quotes, backslash escapes).
fn py_str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

fn roundtrip_types(req: &Request) -> Result<String> {
    let color = string_at(col(req, "color")?, 0)?;
    let mapping = col(req, "mapping")?;
    let mapping = mapping
        .as_any()
        .downcast_ref::<MapArray>()
        .ok_or_else(|| RpcError::type_error(format!("mapping: expected map, got {}", mapping.data_type())))?;
    let entries = mapping.value(0);
    let keys = entries.column(0);
    let vals = entries
        .column(1)
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| RpcError::type_error("mapping values: expected int64"))?
        .clone();
    let mut pairs = Vec::with_capacity(entries.len());
    for k in 0..entries.len() {
        pairs.push((string_at(keys.as_ref(), k)?, vals.value(k)));
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let tags = col(req, "tags")?;
    let tags = tags
        .as_any()
        .downcast_ref::<ListArray>()
        .ok_or_else(|| RpcError::type_error(format!("tags: expected list, got {}", tags.data_type())))?;
    let tag_values = tags.value(0);
    let tag_values = tag_values
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| RpcError::type_error("tags items: expected int64"))?;
    let mut t: Vec<i64> = tag_values.values().to_vec();
    t.sort_unstable();
    t.dedup();
    let dict = pairs
        .iter()
        .map(|(k, v)| format!("{}: {}", py_str_repr(k), v))
        .collect::<Vec<_>>()
        .join(", ");
    let list = t.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ");
    Ok(format!("{color}:true:{{{dict}}}:[{list}]"))
}

// ------------------------------------------------------------ registration

pub fn build_server() -> RpcServer {
    let mut srv = RpcServer::builder()
        .server_id("vgi-bench-rust")
        .protocol_name("BenchmarkService")
        .enable_describe(true)
        .build();

    srv.register(MethodInfo::unary("noop", schema(vec![]), schema(vec![]), |_req, _ctx| Ok(None)));

    let rs = result_schema(DataType::Float64);
    srv.register(
        MethodInfo::unary(
            "add",
            schema(vec![Field::new("a", DataType::Float64, false), Field::new("b", DataType::Float64, false)]),
            rs.clone(),
            move |req, _ctx| {
                let a = f64_param(req, "a")?;
                let b = f64_param(req, "b")?;
                unary_result(&rs, Arc::new(Float64Array::from(vec![a + b])))
            },
        )
        .param_type("a", "float")
        .param_type("b", "float"),
    );

    let rs = result_schema(DataType::Utf8);
    srv.register(
        MethodInfo::unary("greet", schema(vec![Field::new("name", DataType::Utf8, false)]), rs.clone(), move |req, _ctx| {
            let name = string_at(col(req, "name")?, 0)?;
            unary_result(&rs, Arc::new(StringArray::from(vec![format!("Hello, {name}!")])))
        })
        .param_type("name", "str"),
    );

    let rs = result_schema(DataType::Utf8);
    let color_type = DataType::Dictionary(Box::new(DataType::Int16), Box::new(DataType::Utf8));
    let map_type = DataType::Map(
        Arc::new(Field::new(
            "entries",
            DataType::Struct(Fields::from(vec![
                Field::new("key", DataType::Utf8, false),
                Field::new("value", DataType::Int64, true),
            ])),
            false,
        )),
        false,
    );
    let list_type = DataType::List(Arc::new(Field::new("item", DataType::Int64, true)));
    srv.register(
        MethodInfo::unary(
            "roundtrip_types",
            schema(vec![
                Field::new("color", color_type, false),
                Field::new("mapping", map_type, false),
                Field::new("tags", list_type, false),
            ]),
            rs.clone(),
            move |req, _ctx| unary_result(&rs, Arc::new(StringArray::from(vec![roundtrip_types(req)?]))),
        )
        .param_type("color", "Color")
        .param_type("mapping", "dict[str, int]")
        .param_type("tags", "frozenset[int]"),
    );

    let rs = result_schema(DataType::Binary);
    srv.register(
        MethodInfo::unary("echo", schema(vec![Field::new("data", DataType::Binary, false)]), rs.clone(), move |req, _ctx| {
            let c = col(req, "data")?;
            // The argument's column is returned as is (sliced to its first row
            // in case a client sent more): no copy of the bytes.
            let arr: ArrayRef = if let Some(b) = c.as_any().downcast_ref::<BinaryArray>() {
                Arc::new(b.slice(0, 1))
            } else if let Some(b) = c.as_any().downcast_ref::<LargeBinaryArray>() {
                Arc::new(BinaryArray::from_vec(vec![b.value(0)]))
            } else {
                return Err(RpcError::type_error(format!("data: expected binary, got {}", c.data_type())));
            };
            unary_result(&rs, arr)
        })
        .param_type("data", "bytes"),
    );

    let out = generate_schema();
    srv.register(
        MethodInfo::stream(
            "generate",
            MethodType::Producer,
            schema(vec![Field::new("count", DataType::Int64, false)]),
            move |req, _ctx| {
                let count = i64_param(req, "count")?;
                Ok(StreamResult::producer(out.clone(), Box::new(Generate { count, current: 0 })))
            },
        )
        .param_type("count", "int")
        .with_state_decoder(Arc::new(|b: &[u8]| {
            let v = decode_i64s(b, 2)?;
            Ok(StreamStateKind::Producer(Box::new(Generate { count: v[0], current: v[1] })))
        })),
    );

    let out = large_schema();
    srv.register(
        MethodInfo::stream(
            "generate_batches",
            MethodType::Producer,
            schema(vec![Field::new("count", DataType::Int64, false), Field::new("rows", DataType::Int64, false)]),
            move |req, _ctx| {
                let count = i64_param(req, "count")?;
                let rows = i64_param(req, "rows")?;
                let batch = cached_large_batch(rows_usize(rows)?);
                Ok(StreamResult::producer(out.clone(), Box::new(GenerateBatches { count, rows, current: 0, batch })))
            },
        )
        .param_type("count", "int")
        .param_type("rows", "int")
        .with_state_decoder(Arc::new(|b: &[u8]| {
            let v = decode_i64s(b, 3)?;
            let batch = cached_large_batch(rows_usize(v[1])?);
            Ok(StreamStateKind::Producer(Box::new(GenerateBatches { count: v[0], rows: v[1], current: v[2], batch })))
        })),
    );

    let ts = transform_schema();
    srv.register(
        MethodInfo::stream(
            "transform",
            MethodType::Exchange,
            schema(vec![Field::new("factor", DataType::Float64, false)]),
            move |req, _ctx| {
                let factor = f64_param(req, "factor")?;
                let state = Transform { factor, out_schema: ts.clone() };
                Ok(StreamResult::exchange(ts.clone(), ts.clone(), Box::new(state)))
            },
        )
        .param_type("factor", "float")
        .with_state_decoder(Arc::new(|b: &[u8]| {
            let factor = f64::from_le_bytes(
                b.try_into().map_err(|_| RpcError::runtime_error("bad transform state"))?,
            );
            Ok(StreamStateKind::Exchange(Box::new(Transform { factor, out_schema: transform_schema() })))
        })),
    );

    srv
}
